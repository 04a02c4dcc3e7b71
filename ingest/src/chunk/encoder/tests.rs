use super::*;
use crate::chunk::pretokenize::tests::real_texts;

/// Texts whose pieces reach tiktoken whole (longer than [`LONG_PIECE`]) or split into several
/// tokens, next to ordinary ones.
fn edge_texts() -> Vec<String> {
    vec![
        " ".repeat(300),
        format!("{}x", " ".repeat(150)),
        "a".repeat(250),
        format!("¿{}?", "Ñandú".repeat(40)),
        format!("{}\n\n\n", "-=".repeat(120)),
        "Supercalifragilisticexpialidocious anticonstitucionalmente".to_owned(),
        "0123456789".repeat(20),
        "🚀🚀🚀 東京の会議室 \u{301}\u{301}".to_owned(),
        "<|endoftext|> is text here, not a special token".to_owned(),
        String::new(),
    ]
}

fn tiktoken_lengths(core: &CoreBPE, text: &str) -> Vec<usize> {
    core.encode_ordinary(text)
        .into_iter()
        .map(|rank| core.decode_bytes(&[rank]).unwrap().len())
        .collect()
}

#[test]
fn tokens_are_tiktokens_in_both_encodings() {
    let mut texts = real_texts();
    texts.extend(edge_texts());
    for encoding in [TokenEncoding::Cl100kBase, TokenEncoding::O200kBase] {
        let encoder = Encoder::new(encoding);
        for text in &texts {
            let mut lengths = Vec::new();
            encoder.token_lengths(text, |length| lengths.push(length));
            let expected = tiktoken_lengths(encoder.core, text);
            assert_eq!(lengths, expected, "{encoding:?}: {text:?}");
            assert_eq!(
                encoder.count(text),
                expected.len(),
                "{encoding:?}: {text:?}"
            );
        }
    }
}

#[test]
fn special_tokens_are_not_in_the_pieces_vocabulary() {
    let encoder = Encoder::new(TokenEncoding::Cl100kBase);
    let ranks = encoder.vocabulary.ranks.as_ref().unwrap();
    assert!(ranks.len() > 100_000);
    assert!(!ranks.contains_key(b"<|endoftext|>".as_slice()));
    assert!(
        Encoder::new(TokenEncoding::O200kBase)
            .vocabulary
            .ranks
            .is_none()
    );
}
