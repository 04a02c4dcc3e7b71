#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
//! Retrieval over the bilingual handbook: Spanish questions from `docs/handbook-es-questions.md`
//! find their Spanish documents among the top BM25 hits (each chunk is analysed in its own
//! language, each question in its own), and English questions still find English documents.

use ragway_tests::harness::{Gateway, HANDBOOK_TENANT, test_config};

/// How deep the expected document may be.
const TOP: usize = 3;

/// `(question, expected document)`, numbered as in `docs/handbook-es-questions.md`.
const SPANISH: &[(&str, &str)] = &[
    (
        "¿Cuántos días de vacaciones tengo en mi segundo año si soy sindicalizado?",
        "hr/vacaciones-y-permisos.md",
    ),
    (
        "¿Con cuánta anticipación tengo que pedir vacaciones de tres días o más?",
        "hr/vacaciones-y-permisos.md",
    ),
    (
        "¿Cuántos días de permiso de paternidad da Acero Norte?",
        "hr/vacaciones-y-permisos.md",
    ),
    (
        "¿Cuántos días de aguinaldo recibe el personal sindicalizado de la planta Monterrey?",
        "hr/aguinaldo-ptu-y-prima-vacacional.md",
    ),
    (
        "¿Qué día se paga la PTU en 2026?",
        "hr/aguinaldo-ptu-y-prima-vacacional.md",
    ),
    (
        "¿Cuántos minutos de tolerancia hay en el checador?",
        "hr/horarios-y-turnos-planta-monterrey.md",
    ),
    (
        "¿Qué formato necesito para cambiar de turno con un compañero?",
        "hr/horarios-y-turnos-planta-monterrey.md",
    ),
    (
        "¿Cómo se pagan las horas extra que pasan de 9 a la semana?",
        "hr/horarios-y-turnos-planta-monterrey.md",
    ),
    (
        "¿Qué aviso se llena ante el IMSS cuando tengo un accidente de trabajo?",
        "hr/incapacidades-imss.md",
    ),
    (
        "¿A qué extensión llamo a la Mesa de Servicio de TI?",
        "it/mesa-de-servicio-tickets.md",
    ),
    (
        "¿Cuántos intentos fallidos bloquean el PIN del kiosco de un operador?",
        "it/restablecer-contrasena-acerid.md",
    ),
    (
        "¿Cuánto dura como máximo una sesión de la VPN NorthGate?",
        "it/vpn-northgate.md",
    ),
    (
        "¿Qué uso de CFDI tengo que pedir en las facturas de mis gastos?",
        "finance/facturacion-cfdi-40-para-gastos.md",
    ),
    (
        "¿Cuál es el monto máximo de un vale de caja chica en la planta Monterrey?",
        "finance/caja-chica-planta-monterrey.md",
    ),
    (
        "¿A qué velocidad máxima puede ir un montacargas a menos de 5 m de un peatón?",
        "plant-safety/operacion-de-montacargas.md",
    ),
    (
        "¿Qué formato autoriza retirar el candado LOTO de otra persona?",
        "plant-safety/bloqueo-y-etiquetado.md",
    ),
    (
        "¿Por qué canal de radio se comunica la brigada HAZMAT?",
        "plant-safety/respuesta-a-derrames-quimicos.html",
    ),
    (
        "¿En cuánto tiempo se borran los trabajos de impresión que no libero en la planta?",
        "it/impresoras-planta-monterrey.html",
    ),
    (
        "¿Cada cuánto me reponen el calzado de seguridad si trabajo en producción?",
        "plant-safety/epp-obligatorio-planta-monterrey.md",
    ),
    (
        "¿Cada cuánto tiempo debe el vigía hacer contacto con los entrantes de un espacio confinado?",
        "plant-safety/espacios-confinados-guia-del-vigia.md",
    ),
];

/// English questions about English documents: the Spanish documents beside them must not push
/// them out (the first two have Spanish counterparts, the others are English only).
const ENGLISH: &[(&str, &str)] = &[
    (
        "Which server address does the NorthGate client connect to?",
        "it/northgate-vpn-setup.md",
    ),
    (
        "How many vacation days do I get?",
        "hr/vacation-and-leave.md",
    ),
    (
        "How do I report a phishing email?",
        "security/phishing-reporting.md",
    ),
    (
        "How often must the overhead crane be inspected?",
        "maintenance/oc-10-overhead-crane-inspection.html",
    ),
];

/// The questions whose expected document is not among the top `TOP` hits, with what came instead.
async fn misses(gateway: &Gateway, cases: &[(&str, &str)]) -> Vec<String> {
    let mut misses = Vec::new();
    for (question, expected) in cases {
        let hits = gateway.bm25_hits(HANDBOOK_TENANT, question).await;
        if !hits.iter().take(TOP).any(|uri| uri == expected) {
            misses.push(format!("{question} → expected {expected}, got {hits:?}"));
        }
    }
    misses
}

#[tokio::test]
async fn spanish_questions_find_spanish_documents_and_english_still_works() {
    let tmp = tempfile::tempdir().unwrap();
    let (gateway, _key) = Gateway::with_handbook(test_config(&tmp.path().join("data")))
        .await
        .unwrap();

    let spanish = misses(&gateway, SPANISH).await;
    assert!(
        spanish.is_empty(),
        "{} of {} Spanish questions missed:\n{}",
        spanish.len(),
        SPANISH.len(),
        spanish.join("\n")
    );
    let english = misses(&gateway, ENGLISH).await;
    assert!(
        english.is_empty(),
        "English questions missed:\n{}",
        english.join("\n")
    );
    // The Spanish question lands on the Spanish version first where both languages have one.
    let hits = gateway
        .bm25_hits(
            HANDBOOK_TENANT,
            "¿Cuánto dura como máximo una sesión de la VPN NorthGate?",
        )
        .await;
    assert_eq!(
        hits.first().map(String::as_str),
        Some("it/vpn-northgate.md"),
        "{hits:?}"
    );
    gateway.shutdown().await;
}

/// English questions about Spanish-only documents (E1–E5 of `docs/handbook-es-questions.md`).
const ENGLISH_ABOUT_SPANISH: &[(&str, &str)] = &[
    (
        "How many days of Christmas bonus (aguinaldo) do unionised workers at the Monterrey plant receive?",
        "hr/aguinaldo-ptu-y-prima-vacacional.md",
    ),
    (
        "Which form do I fill in to get money from the Monterrey plant petty cash fund?",
        "finance/caja-chica-planta-monterrey.md",
    ),
    (
        "How often do production workers at the Monterrey plant rotate shifts?",
        "hr/horarios-y-turnos-planta-monterrey.md",
    ),
    (
        "Which form is used to request special PPE such as metatarsal boots?",
        "plant-safety/epp-obligatorio-planta-monterrey.md",
    ),
    (
        "On which radio channel does a confined-space attendant test the radio with the Emergency Control Centre?",
        "plant-safety/espacios-confinados-guia-del-vigia.md",
    ),
];

/// A known weakness, kept visible: BM25 alone does not cross languages. The English question is
/// analysed in English and the Spanish chunks in Spanish, so they share only words whose stems
/// agree (proper nouns, codes, cognates such as velocity/velocidad → `veloc`), and English
/// documents that share more words rank first: none of E1–E5 finds its document in the top 3
/// (also not with `bm25.query = "all"`). A multilingual dense embedder is the expected fix.
#[tokio::test]
#[ignore = "known weakness: lexical retrieval does not cross languages (E1–E5 miss)"]
async fn english_questions_find_spanish_only_documents() {
    let tmp = tempfile::tempdir().unwrap();
    let (gateway, _key) = Gateway::with_handbook(test_config(&tmp.path().join("data")))
        .await
        .unwrap();
    let missed = misses(&gateway, ENGLISH_ABOUT_SPANISH).await;
    gateway.shutdown().await;
    assert!(missed.is_empty(), "{}", missed.join("\n"));
}

/// What does cross: a word whose English and Spanish stems agree. "velocity" reaches the
/// forklift manual's speed table ("velocidad") — on its own enough to pass the relevance cut,
/// which is why the off-topic question of `tests/tests/api.rs` no longer says "velocity".
#[tokio::test]
async fn cognates_meet_across_languages() {
    let tmp = tempfile::tempdir().unwrap();
    let (gateway, _key) = Gateway::with_handbook(test_config(&tmp.path().join("data")))
        .await
        .unwrap();
    let hits = gateway.bm25_hits(HANDBOOK_TENANT, "velocity").await;
    assert_eq!(
        hits.first().map(String::as_str),
        Some("plant-safety/operacion-de-montacargas.md"),
        "{hits:?}"
    );
    gateway.shutdown().await;
}
