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
    if text.chars().count() >= SHORT_TEXT_CHARS
        && let Some(info) = detector().detect(text)
        && info.confidence() >= 0.2
    {
        return Some(from_whatlang(info.lang()));
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
