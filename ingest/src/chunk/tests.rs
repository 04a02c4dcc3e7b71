use super::*;

fn cut_pieces(c: &Chunker, text: &str, budget: usize) -> Vec<String> {
    let cut = c.split(text, &c.tokenize(text), budget);
    for (piece, tokens) in &cut {
        assert_eq!(c.count(piece), *tokens, "{piece}");
    }
    cut.into_iter().map(|(piece, _)| piece).collect()
}

fn chunker(max_tokens: usize, overlap: usize) -> Chunker {
    Chunker::new(&ChunkerConfig {
        encoding: TokenEncoding::Cl100kBase,
        max_tokens,
        overlap,
        prefix_context: true,
    })
    .unwrap()
}

#[test]
fn without_the_context_prefix_only_the_text_is_indexed() {
    let doc = ParsedDocument {
        title: "Travel policy".into(),
        mime: "text/markdown",
        sections: vec![Section {
            heading_path: vec!["Per diem".into()],
            text: "Monterrey: 90 USD a day.".into(),
            page: None,
        }],
    };
    let plain = Chunker::new(&ChunkerConfig {
        prefix_context: false,
        ..ChunkerConfig::default()
    })
    .unwrap()
    .chunk(&doc);
    assert_eq!(plain[0].indexed_text(), plain[0].text);
    assert!(plain[0].text.ends_with("Monterrey: 90 USD a day."));
    let prefixed = chunker(512, 64).chunk(&doc);
    assert_eq!(
        prefixed[0].indexed_text(),
        format!("Travel policy\n\n{}", plain[0].text)
    );
    assert!(plain[0].tokens < prefixed[0].tokens);
}

fn doc(sections: Vec<(Vec<&str>, String)>) -> ParsedDocument {
    ParsedDocument {
        title: "Plant safety manual".into(),
        mime: "text/markdown",
        sections: sections
            .into_iter()
            .map(|(path, text)| Section {
                heading_path: path.into_iter().map(String::from).collect(),
                text,
                page: None,
            })
            .collect(),
    }
}

fn long_text(words: usize) -> String {
    (0..words)
        .map(|i| {
            let w = format!("palabra{i}");
            if i % 13 == 12 { format!("{w}.") } else { w }
        })
        .collect::<Vec<_>>()
        .join(" ")
}

#[test]
fn small_documents_stay_one_chunk() {
    let d = doc(vec![
        (vec![], "Intro.".into()),
        (vec!["PPE"], "Wear boots.".into()),
    ]);
    let c = chunker(512, 64);
    let chunks = c.chunk(&d);
    assert_eq!(chunks.len(), 1);
    assert!(chunks[0].text.contains("PPE\nWear boots."));
    assert_eq!(c.count(&chunks[0].indexed_text()), chunks[0].tokens);
    assert_eq!(c.count(&chunks[0].text), chunks[0].text_tokens);
    // Long in bytes, short in tokens (more than 8 bytes a token): still one chunk.
    let spaced = doc(vec![(vec![], format!("Intro.{}End.", " ".repeat(6000)))]);
    let one = c.chunk(&spaced);
    assert_eq!(one.len(), 1, "{one:?}");
    assert_eq!(c.count(&one[0].indexed_text()), one[0].tokens);
}

#[test]
fn token_bounds_hold_and_headings_are_carried() {
    let c = chunker(64, 8);
    let d = doc(vec![
        (vec!["Lockout"], long_text(300)),
        (vec!["Lockout", "Steps"], long_text(120)),
    ]);
    let chunks = c.chunk(&d);
    assert!(chunks.len() > 6, "{}", chunks.len());
    for chunk in &chunks {
        assert!(
            chunk.tokens <= 64,
            "chunk {} has {} tokens",
            chunk.index,
            chunk.tokens
        );
        assert_eq!(c.count(&chunk.indexed_text()), chunk.tokens);
        assert_eq!(c.count(&chunk.text), chunk.text_tokens);
        assert!(chunk.context.starts_with("Plant safety manual > Lockout"));
    }
    assert_eq!(chunks.last().unwrap().heading_path, ["Lockout", "Steps"]);
    let indexes: Vec<_> = chunks.iter().map(|c| c.index).collect();
    assert_eq!(indexes, (0..chunks.len()).collect::<Vec<_>>());
}

#[test]
fn overlap_is_as_configured_and_never_splits_words() {
    let text = long_text(400);
    let c = chunker(100, 20);
    let pieces = cut_pieces(&c, &text, 100);
    assert!(pieces.len() > 3);
    let words: std::collections::HashSet<&str> = text.split_whitespace().collect();
    for pair in pieces.windows(2) {
        let prev: Vec<&str> = pair[0].split_whitespace().collect();
        let next: Vec<&str> = pair[1].split_whitespace().collect();
        let shared = (1..=prev.len().min(next.len()))
            .rev()
            .find(|&n| prev[prev.len() - n..] == next[..n])
            .unwrap_or(0);
        assert!(shared > 0, "no overlap between consecutive chunks");
        let shared_tokens = c.count(&next[..shared].join(" "));
        assert!(shared_tokens <= 20 + 1, "overlap of {shared_tokens} tokens");
        assert!(
            shared_tokens >= 10,
            "overlap of only {shared_tokens} tokens"
        );
    }
    for piece in &pieces {
        for w in piece.split_whitespace() {
            assert!(words.contains(w), "split inside a word: {w}");
        }
    }
    let zero = cut_pieces(&chunker(100, 0), &text, 100);
    let rejoined: Vec<&str> = zero.iter().flat_map(|p| p.split_whitespace()).collect();
    assert_eq!(rejoined, text.split_whitespace().collect::<Vec<_>>());
}

#[test]
fn prefers_paragraph_boundaries() {
    let para = |n: usize| long_text(n);
    let text = format!("{}\n\n{}\n\n{}", para(30), para(30), para(30));
    let pieces = cut_pieces(&chunker(128, 0), &text, 128);
    assert!(
        pieces[0].ends_with(&para(30)[para(30).len() - 10..]),
        "{:?}",
        pieces[0]
    );
}

#[test]
fn unicode_is_safe() {
    let text = "Señalización de áreas peligrosas — 危险 区域 🚧 ".repeat(200);
    let c = chunker(48, 8);
    let d = doc(vec![(vec!["Señales"], text.clone())]);
    let chunks = c.chunk(&d);
    assert!(chunks.len() > 5);
    for chunk in &chunks {
        assert!(chunk.tokens <= 48);
        assert!(chunk.text.starts_with(|ch: char| !ch.is_whitespace()));
    }
    let giant = "x".repeat(5000);
    let pieces = cut_pieces(&c, &giant, 40);
    assert!(pieces.iter().all(|p| c.count(p) <= 40));
}

#[test]
fn chunks_carry_their_section_page() {
    let paged = |sections: Vec<(u32, String)>| ParsedDocument {
        title: "Manual".into(),
        mime: "application/pdf",
        sections: sections
            .into_iter()
            .map(|(page, text)| Section {
                text,
                page: Some(page),
                ..Section::default()
            })
            .collect(),
    };
    let c = chunker(64, 8);
    let chunks = c.chunk(&paged(vec![(3, long_text(200)), (4, long_text(200))]));
    assert!(chunks.len() > 4);
    assert_eq!(chunks[0].page, Some(3));
    assert_eq!(chunks.last().unwrap().page, Some(4));
    assert!(chunks.iter().all(|ch| matches!(ch.page, Some(3 | 4))));
    let pages: Vec<_> = chunks.iter().map(|ch| ch.page).collect();
    assert!(pages.is_sorted(), "{pages:?}");
    // A small document is one chunk: it cites the page it starts on.
    let one = c.chunk(&paged(vec![
        (2, "Short.".into()),
        (5, "Also short.".into()),
    ]));
    assert_eq!(one.len(), 1);
    assert_eq!(one[0].page, Some(2));
}

#[test]
fn rejects_bad_configuration() {
    let bad = ChunkerConfig {
        max_tokens: 100,
        overlap: 80,
        ..Default::default()
    };
    assert!(
        Chunker::new(&bad)
            .unwrap_err()
            .to_string()
            .contains("overlap")
    );
}
