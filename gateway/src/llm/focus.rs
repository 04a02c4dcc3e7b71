//! The part of a passage that answers a question, for extractive answers: the passage's
//! sentences scored by the question's content words (lowercased, accents folded, stopwords and
//! short words dropped, a 5-character prefix as a stemmer that works for Spanish and English),
//! then a window of consecutive sentences around the best one. No model, microseconds per passage.

use std::collections::HashSet;
use std::ops::Range;

use crate::ground::excerpt;

/// Words that say nothing about what a question is about, in both languages (accents folded).
const STOPWORDS: &[&str] = &[
    // Spanish
    "el", "la", "los", "las", "un", "una", "unos", "unas", "de", "del", "al", "a", "en", "y", "e",
    "o", "u", "que", "quien", "quienes", "cual", "cuales", "cuando", "donde", "como", "cuanto",
    "cuanta", "cuantos", "cuantas", "por", "para", "con", "sin", "sobre", "entre", "hasta",
    "desde", "se", "su", "sus", "mi", "mis", "tu", "tus", "lo", "le", "les", "es", "son", "fue",
    "fueron", "era", "eran", "ser", "estar", "esta", "este", "estos", "estas", "esa", "ese", "eso",
    "hay", "ha", "han", "habia", "tiene", "tienen", "tenia", "puede", "pueden", "puedo", "hace",
    "hizo", "no", "si", "mas", "muy", "tambien", "otro", "otra", "otros", "otras", "cada", "segun",
    "porque", "pero", "aunque", "ademas", "tengo", "debo", "debe", "nombre", "llama", "llamaba",
    // English
    "the", "an", "of", "and", "or", "to", "in", "on", "at", "by", "for", "with", "from", "into",
    "about", "as", "is", "are", "was", "were", "be", "been", "being", "do", "does", "did", "has",
    "have", "had", "can", "could", "would", "should", "may", "might", "must", "will", "shall",
    "what", "which", "who", "whom", "whose", "when", "where", "why", "how", "many", "much", "this",
    "that", "these", "those", "it", "its", "their", "there", "they", "them", "his", "her", "he",
    "she", "we", "you", "your", "our", "my", "not", "no", "than", "then", "some", "any", "most",
    "more", "other", "name", "called", "type", "kind",
];

/// Letters of a stem (a cheap stemmer for both languages: `trabajadores`/`trabajo`,
/// `population`/`populated`).
const STEM_CHARS: usize = 5;

/// The `max_chars` (or fewer) characters of `passage` that best answer `question`: whole
/// sentences around the one sharing most of the question's rarer words, with `…` where the
/// passage was cut. The start of the passage when no sentence shares a word with the question.
pub fn focused_excerpt(passage: &str, question: &str, max_chars: usize) -> String {
    let passage = passage.trim();
    if passage.chars().count() <= max_chars {
        return passage.to_owned();
    }
    let terms: HashSet<String> = words(question).filter_map(|w| stem(&w)).collect();
    let sentences = sentences(passage);
    let stems: Vec<HashSet<String>> = sentences
        .iter()
        .map(|r| {
            words(&passage[r.clone()])
                .filter_map(|w| stem(&w))
                .collect()
        })
        .collect();
    let scores = scores(&terms, &stems);
    let Some(best) = best(&scores) else {
        // Room for the ellipsis.
        return excerpt(passage, max_chars.saturating_sub(1).max(1));
    };
    // Room for the two ellipses.
    let budget = max_chars.saturating_sub(2).max(1);
    let (first, last) = window(&sentences, &scores, best, passage, budget);
    let text = if first == last && chars(passage, &sentences[first]) > budget {
        within_sentence(&passage[sentences[first].clone()], &terms, budget)
    } else {
        passage[sentences[first].start..sentences[last].end]
            .trim()
            .to_owned()
    };
    let mut out = String::new();
    if sentences[first].start > 0 || !passage.starts_with(text.as_str()) {
        out.push('…');
    }
    out.push_str(&text);
    if sentences[last].end < passage.len() || !passage.ends_with(text.as_str()) {
        out.push('…');
    }
    out
}

/// Lowercase words with accents folded.
fn words(text: &str) -> impl Iterator<Item = String> + '_ {
    text.split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty())
        .map(|w| w.chars().flat_map(char::to_lowercase).map(fold).collect())
}

fn fold(c: char) -> char {
    match c {
        'á' | 'à' | 'â' | 'ä' | 'ã' => 'a',
        'é' | 'è' | 'ê' | 'ë' => 'e',
        'í' | 'ì' | 'î' | 'ï' => 'i',
        'ó' | 'ò' | 'ô' | 'ö' | 'õ' => 'o',
        'ú' | 'ù' | 'û' | 'ü' => 'u',
        'ñ' => 'n',
        'ç' => 'c',
        other => other,
    }
}

/// A word's stem, or None for stopwords and words too short to mean much (numbers count).
fn stem(word: &str) -> Option<String> {
    let numeric = word.chars().all(|c| c.is_ascii_digit());
    if (numeric && word.len() < 2) || (!numeric && word.chars().count() < 3) {
        return None;
    }
    if STOPWORDS.contains(&word) {
        return None;
    }
    if numeric {
        return Some(word.to_owned());
    }
    // Plurals share their singular's stem (`años`/`año`, `wars`/`war`).
    let singular = match word.strip_suffix('s') {
        Some(rest) if rest.chars().count() >= 3 => rest,
        _ => word,
    };
    Some(singular.chars().take(STEM_CHARS).collect())
}

/// Byte ranges of the sentences (ending at `.`, `!`, `?`, `…` or a line break).
fn sentences(text: &str) -> Vec<Range<usize>> {
    let mut out = Vec::new();
    let mut start = 0;
    let mut chars = text.char_indices().peekable();
    while let Some((i, c)) = chars.next() {
        let end = i + c.len_utf8();
        let boundary = match c {
            '\n' => true,
            '.' | '!' | '?' | '…' => {
                // Closing quotes and brackets stay with their sentence.
                let mut after = end;
                while let Some(&(j, next)) = chars.peek() {
                    if matches!(next, '"' | '”' | '»' | '\'' | ')' | ']') {
                        after = j + next.len_utf8();
                        chars.next();
                    } else {
                        break;
                    }
                }
                let rest = &text[after..];
                let next = rest.trim_start().chars().next();
                let spaced = rest.starts_with(char::is_whitespace);
                if spaced && next.is_none_or(starts_sentence) {
                    out.push(start..after);
                    start = after;
                }
                false
            }
            _ => false,
        };
        if boundary {
            out.push(start..end);
            start = end;
        }
    }
    out.push(start..text.len());
    out.retain(|r| !text[r.clone()].trim().is_empty());
    out
}

/// A character a sentence may start with (so "e.g. the" and "3.5" are not ends).
fn starts_sentence(c: char) -> bool {
    c.is_uppercase()
        || c.is_ascii_digit()
        || matches!(c, '¿' | '¡' | '"' | '“' | '«' | '(' | '-' | '*' | '•')
}

/// Each sentence's score: the question's stems it contains, the rarer in the passage the more
/// they weigh (a word in every sentence tells nothing about where the answer is).
fn scores(terms: &HashSet<String>, stems: &[HashSet<String>]) -> Vec<f64> {
    let n = stems.len() as f64;
    stems
        .iter()
        .map(|sentence| {
            terms
                .iter()
                .filter(|t| sentence.contains(*t))
                .map(|t| {
                    let df = stems.iter().filter(|s| s.contains(t)).count() as f64;
                    (1.0 + n / df).ln()
                })
                .sum()
        })
        .collect()
}

/// The first best-scoring sentence, if any scores at all.
fn best(scores: &[f64]) -> Option<usize> {
    let (i, top) = scores.iter().enumerate().fold(
        (0, 0.0),
        |(bi, bs), (i, &s)| if s > bs { (i, s) } else { (bi, bs) },
    );
    (top > 0.0).then_some(i)
}

fn chars(text: &str, range: &Range<usize>) -> usize {
    text[range.clone()].trim().chars().count()
}

/// Sentences `first..=last` around `best` that fit `budget` characters: each step adds the
/// neighbour that scores higher (the one before on a tie: it often names what "it" is).
fn window(
    sentences: &[Range<usize>],
    scores: &[f64],
    best: usize,
    text: &str,
    budget: usize,
) -> (usize, usize) {
    let (mut first, mut last) = (best, best);
    let span = |a: usize, b: usize| {
        text[sentences[a].start..sentences[b].end]
            .trim()
            .chars()
            .count()
    };
    loop {
        let before = (first > 0 && span(first - 1, last) <= budget).then(|| first - 1);
        let after =
            (last + 1 < sentences.len() && span(first, last + 1) <= budget).then_some(last + 1);
        match (before, after) {
            (Some(b), Some(a)) if scores[a] > scores[b] => last = a,
            (Some(b), _) => first = b,
            (None, Some(a)) => last = a,
            (None, None) => return (first, last),
        }
    }
}

/// A sentence longer than the budget: the stretch of `budget` characters holding most of the
/// question's words, cut at word boundaries.
fn within_sentence(sentence: &str, terms: &HashSet<String>, budget: usize) -> String {
    let sentence = sentence.trim();
    let chars: Vec<(usize, char)> = sentence.char_indices().collect();
    // Character offsets of the words that match the question.
    let mut hits = Vec::new();
    let mut offset = 0;
    for piece in sentence.split_inclusive(|c: char| !c.is_alphanumeric()) {
        let word: String = piece.chars().filter(|c| c.is_alphanumeric()).collect();
        let folded: String = word
            .chars()
            .flat_map(char::to_lowercase)
            .map(fold)
            .collect();
        if stem(&folded).is_some_and(|s| terms.contains(&s)) {
            hits.push(offset);
        }
        offset += piece.chars().count();
    }
    let start = hits
        .iter()
        .map(|&h| h.saturating_sub(budget / 3))
        .max_by_key(|&s| hits.iter().filter(|&&h| h >= s && h < s + budget).count())
        .unwrap_or(0)
        .min(chars.len().saturating_sub(budget));
    let end = (start + budget).min(chars.len());
    let byte = |i: usize| chars.get(i).map_or(sentence.len(), |&(b, _)| b);
    let mut piece = &sentence[byte(start)..byte(end)];
    // Whole words only: drop the partial ones at either cut.
    if start > 0
        && let Some(space) = piece.find(char::is_whitespace)
    {
        piece = &piece[space..];
    }
    if end < chars.len()
        && let Some(space) = piece.rfind(char::is_whitespace)
    {
        piece = &piece[..space];
    }
    piece.trim().to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    const ES: &str = "El Parque Nacional Cumbres de Monterrey fue creado en 1939 por decreto presidencial. \
        Es el parque nacional más grande de México y abarca partes de varios municipios de Nuevo León. \
        Sus cañones y cascadas atraen a miles de visitantes cada año, sobre todo en primavera. \
        La Cola de Caballo es una cascada de veinticinco metros de altura situada dentro del parque. \
        El clima es semiárido en las zonas bajas y templado en las partes altas de la sierra. \
        La fauna incluye osos negros, pumas, venados cola blanca y más de doscientas especies de aves. \
        En 2000 el parque fue recategorizado y su superficie se redujo a 177 395 hectáreas. \
        Los incendios forestales y la expansión urbana son sus principales amenazas hoy en día.";

    const EN: &str = "The Rhine is a European river that begins in the Swiss canton of Graubünden. \
        It flows through Switzerland, Liechtenstein, Austria, Germany, France and the Netherlands. \
        The river empties into the North Sea near Rotterdam after a course of about 1,230 kilometres. \
        Its biggest tributaries are the Aare, the Main, the Neckar and the Moselle. \
        During the Roman Empire the Rhine formed the northern border of Roman territory. \
        Today it is one of the most important inland waterways, carrying barges of coal and steel. \
        The Rhine Falls, near Schaffhausen, are the largest plain waterfall in Europe. \
        Many castles line the Middle Rhine, a UNESCO World Heritage Site since 2002.";

    #[test]
    fn quotes_the_sentence_that_answers_in_spanish() {
        let out = focused_excerpt(ES, "¿Qué altura tiene la cascada Cola de Caballo?", 300);
        assert!(out.contains("veinticinco metros de altura"), "{out}");
        assert!(out.chars().count() <= 300, "{}", out.chars().count());
        assert!(out.starts_with('…') && out.ends_with('…'), "{out}");
        assert!(!out.contains("1939"), "the start is not quoted: {out}");

        let out = focused_excerpt(
            ES,
            "¿A cuántas hectáreas se redujo la superficie del parque?",
            300,
        );
        assert!(out.contains("177 395 hectáreas"), "{out}");
        // Accents folded: «cuando fue creado» finds «creado en 1939».
        let out = focused_excerpt(ES, "cuando fue CREADO el parque", 200);
        assert!(out.contains("1939"), "{out}");
    }

    #[test]
    fn quotes_the_sentence_that_answers_in_english() {
        let out = focused_excerpt(EN, "Which castles are a World Heritage Site?", 250);
        assert!(
            out.contains("UNESCO World Heritage Site since 2002"),
            "{out}"
        );
        assert!(
            out.ends_with("2002."),
            "the passage's end is not marked as cut: {out}"
        );
        let out = focused_excerpt(EN, "Where does the river empty into the sea?", 250);
        assert!(out.contains("North Sea near Rotterdam"), "{out}");
        // Plurals and stems: "tributary" finds "tributaries".
        let out = focused_excerpt(EN, "Name a tributary of the Rhine.", 250);
        assert!(out.contains("Aare, the Main"), "{out}");
    }

    #[test]
    fn falls_back_to_the_start_and_keeps_short_passages_whole() {
        let out = focused_excerpt(EN, "Quantum chromodynamics?", 120);
        assert!(out.starts_with("The Rhine is a European river"), "{out}");
        assert!(out.ends_with('…') && out.chars().count() <= 120, "{out}");
        assert_eq!(
            focused_excerpt("  Short text. ", "text", 700),
            "Short text."
        );
    }

    #[test]
    fn a_long_sentence_is_cut_around_the_words_asked_about() {
        let filler = "palabra ".repeat(150);
        let passage = format!("{filler}el montacargas circula a diez kilómetros por hora {filler}");
        let out = focused_excerpt(&passage, "¿A qué velocidad circula el montacargas?", 200);
        assert!(
            out.contains("montacargas circula a diez kilómetros"),
            "{out}"
        );
        assert!(out.chars().count() <= 200 && out.starts_with('…') && out.ends_with('…'));
    }

    #[test]
    fn sentences_do_not_end_at_decimals_or_abbreviations() {
        let text = "It costs 3.5 dollars, e.g. at the shop. Next one! ¿Y esto? Fin";
        let parts: Vec<&str> = sentences(text)
            .into_iter()
            .map(|r| text[r].trim())
            .collect();
        assert_eq!(
            parts,
            [
                "It costs 3.5 dollars, e.g. at the shop.",
                "Next one!",
                "¿Y esto?",
                "Fin"
            ]
        );
    }
}
