//! The languages ragway analyses, answers and speaks in: Spanish and English are first-class.
//! Documents, chunks and questions carry one; detection decides it unless a source, a tenant or a
//! caller declares it.

use std::fmt;
use std::str::FromStr;
use std::sync::OnceLock;

use serde::{Deserialize, Serialize};

#[derive(
    Debug, Clone, Copy, Default, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize,
)]
#[serde(rename_all = "lowercase")]
pub enum Lang {
    #[default]
    En,
    Es,
}

impl Lang {
    pub const ALL: [Lang; 2] = [Lang::En, Lang::Es];

    /// ISO 639-1 code, as stored in chunk payloads and settings.
    pub fn code(self) -> &'static str {
        match self {
            Lang::En => "en",
            Lang::Es => "es",
        }
    }

    /// The name qdrant's analysers (stopwords, Snowball stemmer) know the language by.
    pub fn analyser(self) -> &'static str {
        match self {
            Lang::En => "english",
            Lang::Es => "spanish",
        }
    }

    /// A language tag or name (`es`, `es-MX`, `es_MX.UTF-8`, `spanish`, `en-US`, …); None for
    /// languages ragway does not speak.
    pub fn from_tag(tag: &str) -> Option<Lang> {
        let primary = tag
            .trim()
            .split(['-', '_', '.', ';'])
            .next()
            .unwrap_or_default()
            .to_ascii_lowercase();
        match primary.as_str() {
            "en" | "english" | "eng" => Some(Lang::En),
            "es" | "spanish" | "spa" | "español" | "espanol" => Some(Lang::Es),
            _ => None,
        }
    }

    /// The first language ragway speaks in an `Accept-Language` header, in the caller's order of
    /// preference (q-values).
    pub fn from_accept_language(header: &str) -> Option<Lang> {
        let mut ranked: Vec<(f32, usize, Lang)> = header
            .split(',')
            .enumerate()
            .filter_map(|(i, part)| {
                let mut fields = part.split(';');
                let lang = Lang::from_tag(fields.next()?)?;
                let q = fields
                    .find_map(|f| f.trim().strip_prefix("q="))
                    .and_then(|q| q.trim().parse::<f32>().ok())
                    .unwrap_or(1.0);
                (q > 0.0).then_some((q, i, lang))
            })
            .collect();
        ranked.sort_by(|a, b| b.0.total_cmp(&a.0).then(a.1.cmp(&b.1)));
        ranked.first().map(|&(_, _, lang)| lang)
    }
}

impl fmt::Display for Lang {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.code())
    }
}

impl FromStr for Lang {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Lang::from_tag(s).ok_or_else(|| format!("unsupported language `{s}` (one of: en, es)"))
    }
}

/// Words that only occur in one of the two languages and are frequent in short questions; they
/// decide where trigram statistics are unreliable (a few words).
const SPANISH_WORDS: &[&str] = &[
    "el", "la", "los", "las", "de", "del", "que", "qué", "en", "un", "una", "es", "por", "para",
    "con", "se", "mi", "cómo", "como", "cuál", "cual", "cuándo", "cuando", "dónde", "donde",
    "cuántos", "cuántas", "quién", "hay", "puedo", "tengo", "son", "y", "o", "al", "lo", "su",
    "sus", "días", "año", "según",
];
const ENGLISH_WORDS: &[&str] = &[
    "the", "of", "and", "to", "in", "is", "for", "with", "on", "how", "what", "when", "where",
    "who", "which", "do", "does", "can", "my", "are", "many", "much", "an", "a", "i", "be", "it",
    "at", "by", "from", "should", "must", "days", "year", "was", "were", "did", "has", "have",
    "had", "this", "that", "his", "her", "their", "between", "after", "before", "about", "into",
    "than", "two", "three",
];

/// Characters that never occur in English words.
fn spanish_marker(c: char) -> bool {
    matches!(
        c,
        '¿' | '¡' | 'ñ' | 'Ñ' | 'á' | 'é' | 'í' | 'ó' | 'ú' | 'Á' | 'É' | 'Í' | 'Ó' | 'Ú'
    )
}

/// Texts shorter than this are decided by words, longer ones by trigram statistics.
const SHORT_TEXT_CHARS: usize = 60;

/// The language of a text, or None when it is too short or too ambiguous to tell (the caller then
/// uses a declared language or its default). Only Spanish and English are told apart: a text in
/// another language gets the closer of the two.
pub fn detect(text: &str) -> Option<Lang> {
    let text = text.trim();
    if text.chars().filter(|c| c.is_alphabetic()).count() < 2 {
        return None;
    }
    if text.chars().count() >= SHORT_TEXT_CHARS {
        if let Some(lang) = by_decisive_words(text) {
            return Some(lang);
        }
        if let Some(info) = detector().detect(text)
            && info.confidence() >= 0.2
        {
            return Some(from_whatlang(info.lang()));
        }
    }
    by_words(text)
}

/// [`detect`], falling back to `default`.
pub fn detect_or(text: &str, default: Lang) -> Lang {
    detect(text).unwrap_or(default)
}

fn detector() -> &'static whatlang::Detector {
    static DETECTOR: OnceLock<whatlang::Detector> = OnceLock::new();
    DETECTOR.get_or_init(|| {
        whatlang::Detector::with_allowlist(vec![whatlang::Lang::Eng, whatlang::Lang::Spa])
    })
}

fn from_whatlang(lang: whatlang::Lang) -> Lang {
    match lang {
        whatlang::Lang::Spa => Lang::Es,
        _ => Lang::En,
    }
}

/// Function words frequent in running text of one language and absent from the other's: in a
/// passage of prose they settle the question at a fraction of the trigram statistics' cost (the
/// indexer asks for every chunk). Words shared by both or common as names ("a", "no", "me") are
/// left out.
fn decisive_word(word: &str) -> Option<Lang> {
    match word {
        "the" | "of" | "and" | "to" | "is" | "for" | "with" | "that" | "this" | "are" | "was"
        | "were" | "from" | "by" | "on" | "it" | "be" | "have" | "has" | "which" | "or" | "not"
        | "an" | "at" | "as" => Some(Lang::En),
        "el" | "la" | "los" | "las" | "de" | "del" | "que" | "en" | "un" | "una" | "es" | "por"
        | "para" | "con" | "se" | "su" | "sus" | "al" | "lo" | "y" | "como" | "más" | "está" => {
            Some(Lang::Es)
        }
        _ => None,
    }
}

/// Decisive words needed before a count decides, and how many times the other language's the
/// winner must have.
const DECISIVE_WORDS_MIN: usize = 8;
const DECISIVE_MARGIN: usize = 4;

/// The language of a passage whose function words leave no doubt; None (ask the statistics)
/// when there are too few of them or both languages have a share (code, tables, names, mixed
/// text, a third language).
fn by_decisive_words(text: &str) -> Option<Lang> {
    let (mut english, mut spanish) = (0, 0);
    let mut lower = String::new();
    for word in text.split(|c: char| !c.is_alphabetic()) {
        // No decisive word is longer than five characters (two bytes each at most).
        if word.is_empty() || word.len() > 10 {
            continue;
        }
        lower.clear();
        lower.extend(word.chars().flat_map(char::to_lowercase));
        match decisive_word(&lower) {
            Some(Lang::En) => english += 1,
            Some(Lang::Es) => spanish += 1,
            None => {}
        }
    }
    if english + spanish < DECISIVE_WORDS_MIN {
        return None;
    }
    if english >= spanish * DECISIVE_MARGIN {
        Some(Lang::En)
    } else if spanish >= english * DECISIVE_MARGIN {
        Some(Lang::Es)
    } else {
        None
    }
}

fn by_words(text: &str) -> Option<Lang> {
    let lower = text.to_lowercase();
    let mut spanish = lower.chars().filter(|&c| spanish_marker(c)).count().min(2);
    let mut english = 0;
    for word in lower
        .split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty())
    {
        spanish += usize::from(SPANISH_WORDS.contains(&word));
        english += usize::from(ENGLISH_WORDS.contains(&word));
    }
    match spanish.cmp(&english) {
        std::cmp::Ordering::Greater => Some(Lang::Es),
        std::cmp::Ordering::Less => Some(Lang::En),
        // No function words either way (a keyword query): trigrams are the better guess.
        std::cmp::Ordering::Equal if spanish == 0 => detector()
            .detect(text)
            .filter(|info| info.confidence() > 0.0)
            .map(|info| from_whatlang(info.lang())),
        std::cmp::Ordering::Equal => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tells_spanish_from_english() {
        let cases = [
            (
                "¿Cuántos días de vacaciones tengo en la planta de Monterrey?",
                Lang::Es,
            ),
            ("How many vacation days do I get?", Lang::En),
            ("vacaciones", Lang::Es),
            ("cómo configuro la VPN", Lang::Es),
            ("how do I set up the VPN", Lang::En),
            // Names and one function word each way ("al", "son") must not tip it over.
            (
                "Which two compounds did Al-Muwaffaq differentiate between?",
                Lang::En,
            ),
            ("Who was Ayurbarwada's son?", Lang::En),
            (
                "Los Panthers cedieron solo 308 puntos en defensa y se sitúan en el sexto lugar de la liga.",
                Lang::Es,
            ),
            (
                "The Panthers defense gave up just 308 points, ranking sixth in the league.",
                Lang::En,
            ),
        ];
        for (text, lang) in cases {
            assert_eq!(detect(text), Some(lang), "{text}");
        }
        assert_eq!(detect("42"), None);
        assert_eq!(detect(""), None);
        assert_eq!(detect_or("?", Lang::Es), Lang::Es);
    }

    /// [`detect`] as it was before function words could decide a long text.
    fn by_statistics_alone(text: &str) -> Option<Lang> {
        detector()
            .detect(text)
            .filter(|info| info.confidence() >= 0.2)
            .map(|info| from_whatlang(info.lang()))
            .or_else(|| by_words(text))
    }

    /// Chunk-sized samples of real prose (XQuAD's Spanish and English contexts, SciFact's
    /// English abstracts from `../shared/data`): most are decided by their function words alone,
    /// every one of those rightly, and no passage is told worse than by the statistics alone.
    #[test]
    fn real_passages_are_told_right_mostly_by_their_function_words() {
        let data = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared/data");
        let files = [
            ("xquad/corpus-es.jsonl", Lang::Es),
            ("xquad/corpus-en.jsonl", Lang::En),
            ("scifact/corpus.jsonl", Lang::En),
        ];
        let (mut passages, mut by_function_words) = (0, 0);
        let (mut wrong, mut wrong_by_statistics) = (0, 0);
        for (file, lang) in files {
            let path = data.join(file);
            let lines = std::fs::read_to_string(&path).unwrap_or_else(|e| {
                panic!("{} (../shared beside the repository): {e}", path.display())
            });
            for line in lines.lines() {
                let record: serde_json::Value = serde_json::from_str(line).unwrap();
                // As a chunk is sampled (sync::language).
                let sample: String = record["text"].as_str().unwrap().chars().take(600).collect();
                if sample.chars().count() < 200 {
                    continue;
                }
                passages += 1;
                if let Some(decided) = by_decisive_words(&sample) {
                    by_function_words += 1;
                    assert_eq!(decided, lang, "{file}: {sample}");
                }
                wrong += usize::from(detect(&sample) != Some(lang));
                wrong_by_statistics += usize::from(by_statistics_alone(&sample) != Some(lang));
            }
        }
        assert!(passages > 5_000, "{passages} passages");
        assert!(
            by_function_words * 10 >= passages * 9,
            "only {by_function_words} of {passages} passages decided by function words"
        );
        assert!(
            wrong <= wrong_by_statistics,
            "{wrong} of {passages} passages told wrong, {wrong_by_statistics} by the statistics alone"
        );
        eprintln!(
            "{passages} passages: {by_function_words} decided by function words; told wrong: \
             {wrong} (statistics alone: {wrong_by_statistics})"
        );
    }

    #[test]
    fn function_words_leave_doubtful_text_to_the_statistics() {
        // Too few function words (a keyword list), or both languages with a share.
        assert_eq!(
            by_decisive_words("VPN router firewall gateway switch access point DNS DHCP"),
            None
        );
        assert_eq!(
            by_decisive_words(
                "the policy de la empresa is that el empleado and the manager en la planta"
            ),
            None
        );
        assert_eq!(
            by_decisive_words(
                "The plant in Monterrey is open from Monday to Friday, and the shifts of the \
                 line change on the first day of each month."
            ),
            Some(Lang::En)
        );
        assert_eq!(
            by_decisive_words(
                "La planta de Monterrey abre de lunes a viernes, y los turnos de la línea \
                 cambian el primer día de cada mes."
            ),
            Some(Lang::Es)
        );
    }

    #[test]
    fn parses_tags_and_accept_language() {
        assert_eq!(Lang::from_tag("es-MX"), Some(Lang::Es));
        assert_eq!(Lang::from_tag("es_MX.UTF-8"), Some(Lang::Es));
        assert_eq!(Lang::from_tag("en-US"), Some(Lang::En));
        assert_eq!(Lang::from_tag("fr-FR"), None);
        assert_eq!("spanish".parse::<Lang>(), Ok(Lang::Es));
        assert!("klingon".parse::<Lang>().is_err());
        assert_eq!(
            Lang::from_accept_language("fr-FR, es-MX;q=0.9, en;q=0.8"),
            Some(Lang::Es)
        );
        assert_eq!(
            Lang::from_accept_language("en;q=0.5, es;q=0.7"),
            Some(Lang::Es)
        );
        assert_eq!(Lang::from_accept_language("de, fr"), None);
        assert_eq!(serde_json::to_string(&Lang::Es).unwrap(), "\"es\"");
    }
}
