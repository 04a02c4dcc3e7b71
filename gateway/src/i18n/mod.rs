//! Every string ragway shows to end users (answers, chat bots, the widget's error text, the CLI),
//! in English and Mexican Spanish, chosen by [`Lang`]. Translations follow
//! `docs/i18n-strings.md`: informal *tú*, placeholders such as `{max_chars}` filled by [`fill`].
//!
//! Developer-facing errors (REST and OpenAI-compatible JSON bodies, SSE `error` events of the REST
//! API) stay in English with their stable `code`: integrators match on the code and search the
//! English text; only what a person reads in a chat is localised, keyed by that code.

use ragway_ingest::lang::Lang;

use crate::error::ErrorCode;
use crate::limits::Refused;

mod errors;

pub use errors::error_text;

/// One language's strings. Templates name their placeholders in braces.
#[derive(Debug)]
pub struct Messages {
    /// The refusal when no source is relevant enough (also the prompts' "say when they don't say").
    pub not_found: &'static str,
    /// First line of an answer when no LLM is configured.
    pub extractive_intro: &'static str,
    /// Heading of the cited sources (Slack, CLI).
    pub sources: &'static str,
    /// A cited page, after the title: `{page}`.
    pub page: &'static str,
    /// Placeholder while retrieving (Slack message, `/ask` ack, Teams informative update).
    pub searching: &'static str,
    /// Slack assistant-thread status, shown after the app's name.
    pub status_searching: &'static str,
    /// `{max_chars}`.
    pub question_too_long: &'static str,
    pub not_set_up: &'static str,
    /// `{reason}`: a limit's explanation.
    pub cannot_answer_now: &'static str,
    pub llm_unavailable: &'static str,
    pub embeddings_unavailable: &'static str,
    pub busy: &'static str,
    pub failed: &'static str,
    pub slack_not_connected: &'static str,
    pub slack_usage: &'static str,
    pub slack_response_url_refused: &'static str,
    pub slack_mention_hint: &'static str,
    pub slack_prompts_title: &'static str,
    pub teams_empty_hint: &'static str,
    pub teams_not_connected: &'static str,
    pub helpful: &'static str,
    pub not_helpful: &'static str,
    pub feedback_not_saved: &'static str,
    pub feedback_not_stored: &'static str,
    /// CLI: `({mode} answer, {tokens} tokens)`; `mode` is one of the two below.
    pub cli_answer_footer: &'static str,
    pub cli_mode_extractive: &'static str,
    pub cli_mode_generative: &'static str,
    /// CLI sync summary: `{seen} {added} {changed} {unchanged} {removed} {failed} {chunks} {mb} {generation}`.
    pub cli_synced: &'static str,
    /// `{count}`.
    pub cli_acl_changed: &'static str,
    /// `{count}`.
    pub cli_unsupported: &'static str,
    /// `{uri} {reason}`.
    pub cli_failed: &'static str,
    /// `{uri}`.
    pub cli_removed: &'static str,
    /// `ragway sources` / `ragway sync`.
    pub src_never_synced: &'static str,
    /// `ragway sources` / `ragway sync`: `{status}`, `{at}`.
    pub src_last_sync: &'static str,
    /// `ragway sources` / `ragway sync`.
    pub src_paused: &'static str,
    /// `ragway sources` / `ragway sync`.
    pub src_no_schedule: &'static str,
    /// `ragway sources` / `ragway sync`: `{id}`, `{tenant}`, `{name}`.
    pub src_created_folder: &'static str,
    /// `ragway sources` / `ragway sync`: `{id}`, `{tenant}`, `{name}`.
    pub src_created_web: &'static str,
    /// `ragway sources` / `ragway sync`: `{id}`, `{tenant}`.
    pub src_created_upload: &'static str,
    /// `ragway sources` / `ragway sync`: `{name}`, `{schedule}`.
    pub src_schedule: &'static str,
    /// `ragway sources` / `ragway sync`.
    pub src_none: &'static str,
    /// `ragway sources` / `ragway sync`: `{name}`.
    pub src_paused_done: &'static str,
    /// `ragway sources` / `ragway sync`: `{name}`.
    pub src_resumed: &'static str,
    /// `ragway sources` / `ragway sync`: `{name}`, `{count}`.
    pub src_removed: &'static str,
    /// `ragway sources` / `ragway sync`: `{name}`, `{status}`, `{id}`.
    pub sync_already: &'static str,
    /// `ragway sources` / `ragway sync`: `{count}`.
    pub sync_due: &'static str,
    /// `ragway sources` / `ragway sync`: `{id}`, `{source}`, `{status}`, counts, `{message}` (" (reason)" or empty).
    pub sync_done: &'static str,
    /// `ragway tenants` / `ragway keys` (`|` separates column labels).
    pub tenant_created: &'static str,
    /// `ragway tenants` / `ragway keys` (`|` separates column labels).
    pub tenant_list_header: &'static str,
    /// `ragway tenants` / `ragway keys` (`|` separates column labels).
    pub tenant_renamed: &'static str,
    /// `ragway tenants` / `ragway keys` (`|` separates column labels).
    pub tenant_show_labels: &'static str,
    /// `ragway tenants` / `ragway keys` (`|` separates column labels).
    pub tenant_keys_summary: &'static str,
    /// `ragway tenants` / `ragway keys` (`|` separates column labels).
    pub tenant_deleted: &'static str,
    /// `ragway tenants` / `ragway keys` (`|` separates column labels).
    pub key_created: &'static str,
    /// `ragway tenants` / `ragway keys` (`|` separates column labels).
    pub key_store_now: &'static str,
    /// `ragway tenants` / `ragway keys` (`|` separates column labels).
    pub key_list_header: &'static str,
    /// `ragway tenants` / `ragway keys` (`|` separates column labels).
    pub key_revoked_status: &'static str,
    /// `ragway tenants` / `ragway keys` (`|` separates column labels).
    pub key_active_status: &'static str,
    /// `ragway admin-keys list`: a key past its expiry.
    pub key_expired_status: &'static str,
    /// `ragway admin-keys list`: an active key that expires at `{at}`.
    pub key_active_until_status: &'static str,
    /// `ragway tenants` / `ragway keys` (`|` separates column labels).
    pub key_never_used: &'static str,
    /// `ragway tenants` / `ragway keys` (`|` separates column labels).
    pub key_revoked: &'static str,
    /// `ragway admin-keys` / `usage` / `widget-keys` (`|` separates column labels).
    pub admin_key_created: &'static str,
    /// `ragway admin-keys` / `usage` / `widget-keys` (`|` separates column labels).
    pub admin_key_scope_all: &'static str,
    /// `ragway admin-keys` / `usage` / `widget-keys` (`|` separates column labels).
    pub admin_key_scope_tenant: &'static str,
    /// `ragway admin-keys` / `usage` / `widget-keys` (`|` separates column labels).
    pub admin_key_list_header: &'static str,
    /// `ragway admin-keys` / `usage` / `widget-keys` (`|` separates column labels).
    pub admin_key_all_tenants: &'static str,
    /// `ragway admin-keys` / `usage` / `widget-keys` (`|` separates column labels).
    pub admin_key_revoked: &'static str,
    /// `ragway admin-keys` / `usage` / `widget-keys` (`|` separates column labels).
    pub usage_title: &'static str,
    /// `ragway admin-keys` / `usage` / `widget-keys` (`|` separates column labels).
    pub usage_header: &'static str,
    /// `ragway admin-keys` / `usage` / `widget-keys` (`|` separates column labels).
    pub usage_total: &'static str,
    /// `ragway admin-keys` / `usage` / `widget-keys` (`|` separates column labels).
    pub widget_key_created: &'static str,
    /// `ragway admin-keys` / `usage` / `widget-keys` (`|` separates column labels).
    pub widget_key_embed: &'static str,
    /// `ragway admin-keys` / `usage` / `widget-keys` (`|` separates column labels).
    pub widget_key_list_header: &'static str,
    /// `ragway admin-keys` / `usage` / `widget-keys` (`|` separates column labels).
    pub widget_key_origins: &'static str,
    /// `ragway admin-keys` / `usage` / `widget-keys` (`|` separates column labels).
    pub widget_key_revoked: &'static str,
    /// `ragway serve --demo`.
    pub demo_generative: &'static str,
    /// `ragway serve --demo`.
    pub demo_extractive: &'static str,
    /// `ragway serve --demo`.
    pub demo_ready: &'static str,
    /// `ragway serve --demo`.
    pub demo_api_key: &'static str,
    /// `ragway serve --demo`.
    pub demo_try: &'static str,
    /// `ragway serve --demo`.
    pub demo_question: &'static str,
    /// `ragway serve --demo`.
    pub demo_stream: &'static str,
    /// `ragway serve --demo`.
    pub demo_widget: &'static str,
    /// `ragway eval`: `{dataset} {split} {documents} {chunks} {queries} {dense}`.
    pub eval_header: &'static str,
    /// `ragway eval`: no dense model.
    pub eval_none: &'static str,
    /// `ragway eval`: `{questions} {corpus} {analysis} {query}`.
    pub eval_languages: &'static str,
    /// `ragway eval`: `{added} {changed} {unchanged} {secs} {tenant}`.
    pub eval_ingest: &'static str,
    /// `ragway eval`: `{max_tokens} {overlap} {prefix} {avg_len} {rrf_k} {candidates} {bm25} {dense}`.
    pub eval_settings: &'static str,
    /// `ragway eval`: the table's column labels (`|`-separated, 8 columns).
    pub eval_columns: &'static str,
    /// `ragway eval`: heading of the extractive check.
    pub eval_extractive: &'static str,
    /// `ragway eval`: `{share} {containing} {first}`.
    pub eval_extractive_row: &'static str,
    /// `ragway eval`: `{note}`.
    pub eval_note: &'static str,
    /// `ragway eval` note: `{model}`.
    pub eval_note_english_only: &'static str,
    /// `ragway eval` note.
    pub eval_note_cross_lingual: &'static str,
}

static EN: Messages = Messages {
    not_found: "I couldn't find this in your documents.",
    extractive_intro: "Extractive answer (no language model is configured): the most relevant passages from your documents.",
    sources: "Sources",
    page: "p. {page}",
    searching: "Searching your documents…",
    status_searching: "is searching your documents…",
    question_too_long: "Your question is longer than {max_chars} characters; please shorten it.",
    not_set_up: "Sorry, ragway is not set up to answer here yet; please tell your administrator.",
    cannot_answer_now: "I can't answer right now: {reason}.",
    llm_unavailable: "Sorry, the language model is unavailable right now, so I can't answer. Please try again in a few minutes.",
    embeddings_unavailable: "Sorry, document search is unavailable right now. Please try again in a few minutes.",
    busy: "Sorry, too many questions are being answered right now. Please try again shortly.",
    failed: "Sorry, something went wrong while answering. The problem has been logged.",
    slack_not_connected: "This Slack workspace is not connected to ragway yet; please ask your administrator.",
    slack_usage: "Usage: `/ask <your question>`, e.g. `/ask How do I connect to the VPN?`",
    slack_response_url_refused: "Sorry, I can't answer this command: its reply address is not allowed (see slack.response_url_hosts).",
    slack_mention_hint: "Ask me a question about your organisation's documents, e.g. _How do I connect to the VPN?_",
    slack_prompts_title: "Ask about your organisation's documents",
    teams_empty_hint: "Ask me a question about your organisation's documents.",
    teams_not_connected: "This organisation is not connected to ragway yet; please ask your administrator.",
    helpful: "This answer was helpful",
    not_helpful: "This answer was not helpful",
    feedback_not_saved: "⚠️ Sorry, your feedback could not be saved. Please try again later.",
    feedback_not_stored: "the feedback could not be stored",
    cli_answer_footer: "({mode} answer, {tokens} tokens)",
    cli_mode_extractive: "extractive",
    cli_mode_generative: "generative",
    cli_synced: "synced: {seen} seen, {added} added, {changed} changed, {unchanged} unchanged, {removed} removed, {failed} failed ({chunks} chunks written, {mb} MB read; generation {generation})",
    cli_acl_changed: "access changed for {count} document(s) (updated in place, nothing re-indexed)",
    cli_unsupported: "skipped {count} file(s) of unsupported formats",
    cli_failed: "  failed: {uri}: {reason}",
    cli_removed: "  removed: {uri}",
    src_never_synced: "never synced",
    src_last_sync: "last sync {status} ({at})",
    src_paused: "paused ",
    src_no_schedule: "no schedule",
    src_created_folder: "source {id} created; `ragway sync --tenant {tenant} --source {name}` or the gateway's workers sync it",
    src_created_web: "source {id} created; `ragway sync --tenant {tenant} --source {name}` or the gateway's workers crawl it",
    src_created_upload: "source {id} created; upload with POST /api/v1/admin/tenants/{tenant}/sources/{id}/files",
    src_schedule: "schedule of `{name}`: {schedule}",
    src_none: "none",
    src_paused_done: "`{name}` paused",
    src_resumed: "`{name}` resumed",
    src_removed: "`{name}` removed with {count} document(s)",
    sync_already: "`{name}` already has a sync {status} ({id})",
    sync_due: "{count} scheduled source(s) due",
    sync_done: "sync {id} of source {source}: {status} — {seen} seen, {added} added, {changed} changed, {removed} removed, {failed} failed{message}",
    tenant_created: "created tenant {id}",
    tenant_list_header: "id|name|generation|created",
    tenant_renamed: "tenant {id} is now named {name}",
    tenant_show_labels: "tenant|created|generation|documents|passages|sources|API keys",
    tenant_keys_summary: "{active} active, {revoked} revoked",
    tenant_deleted: "deleted tenant {id}: {passages} passages, {documents} documents, {sources} sources, {keys} API keys, {admin_keys} admin keys, {conversations} conversations",
    key_created: "created API key {id} ({name}) for tenant {tenant}",
    key_store_now: "store it now: it is shown only once",
    key_list_header: "id|name|created|last used|status",
    key_revoked_status: "revoked",
    key_active_status: "active",
    key_expired_status: "expired",
    key_active_until_status: "active until {at}",
    key_never_used: "never",
    key_revoked: "revoked API key {id}",
    admin_key_created: "created admin key {id} ({name}) for {scope}",
    admin_key_scope_all: "every tenant",
    admin_key_scope_tenant: "tenant {id}",
    admin_key_list_header: "id|name|scope|created|status",
    admin_key_all_tenants: "(all tenants)",
    admin_key_revoked: "revoked admin key {id}",
    usage_title: "usage of tenant {tenant} from {from} to {to} (UTC days)",
    usage_header: "day / user|requests|cache hits|prompt tokens|completion tokens|refused",
    usage_total: "total",
    widget_key_created: "created widget key {id} ({name}) for tenant {tenant}, allowed on {origins}",
    widget_key_embed: "embed it in the intranet page (replace <gateway> with this server's address):",
    widget_key_list_header: "key|name|status|origins",
    widget_key_origins: "widget key {id} is now allowed on {origins}",
    widget_key_revoked: "revoked widget key {id}",
    demo_generative: "generative answers",
    demo_extractive: "extractive answers (set OPENAI_API_KEY or [llm] in ragway.toml for generative ones)",
    demo_ready: "ragway demo is ready at http://{addr} — tenant `{tenant}`, {mode}",
    demo_api_key: "API key (new each start): {key}",
    demo_try: "Try:",
    demo_question: "How do I connect to the VPN?",
    demo_stream: "Stream it with \"stream\": true (and curl -N).",
    demo_widget: "Chat widget: open http://{addr}/ (widget key {key}). Stop with Ctrl-C.",
    eval_header: "{dataset} ({split} split): {documents} documents → {chunks} chunks, {queries} queries; dense: {dense}",
    eval_none: "none",
    eval_languages: "languages: questions {questions}, corpus {corpus}; bm25 analysis {analysis} (query: {query})",
    eval_ingest: "ingest: {added} added, {changed} changed, {unchanged} unchanged in {secs} s (tenant {tenant})",
    eval_settings: "chunking: max_tokens {max_tokens}, overlap {overlap}, prefix_context {prefix}; bm25 avg_len {avg_len}; rrf_k {rrf_k}, candidates {candidates}, weights bm25 {bm25} / dense {dense}",
    eval_columns: "mode|nDCG@10|Recall@10|Recall@100|MRR@10|queries/s|p50 ms|p99 ms",
    eval_extractive: "extractive answers containing the gold span (questions whose paragraph is retrieved first):",
    eval_extractive_row: "{share} % ({containing} of {first})",
    eval_note: "note: {note}",
    eval_note_english_only: "{model} is an English-only model: its dense figures on Spanish or cross-lingual text show that limit, \
        and hybrid retrieval answers Spanish questions with BM25 alone; \
        use a multilingual OpenAI-compatible model (e.g. text-embedding-3-small) for Spanish and cross-lingual retrieval",
    eval_note_cross_lingual: "cross-lingual questions share almost no terms with the documents: BM25 alone cannot answer them; \
        a multilingual dense embedder can",
};

static ES: Messages = Messages {
    not_found: "No encontré esto en tus documentos.",
    extractive_intro: "Respuesta extractiva (no hay un modelo de lenguaje configurado): los pasajes más relevantes de tus documentos.",
    sources: "Fuentes",
    page: "pág. {page}",
    searching: "Buscando en tus documentos…",
    status_searching: "está buscando en tus documentos…",
    question_too_long: "Tu pregunta tiene más de {max_chars} caracteres; por favor, acórtala.",
    not_set_up: "Lo siento, ragway todavía no está configurado para responder aquí; avísale a tu administrador.",
    cannot_answer_now: "No puedo responder en este momento: {reason}.",
    llm_unavailable: "Lo siento, el modelo de lenguaje no está disponible en este momento, así que no puedo responder. Intenta de nuevo en unos minutos.",
    embeddings_unavailable: "Lo siento, la búsqueda de documentos no está disponible en este momento. Intenta de nuevo en unos minutos.",
    busy: "Lo siento, en este momento se están respondiendo demasiadas preguntas. Intenta de nuevo en un momento.",
    failed: "Lo siento, algo salió mal al responder. El problema quedó registrado.",
    slack_not_connected: "Este espacio de trabajo de Slack todavía no está conectado a ragway; pídeselo a tu administrador.",
    slack_usage: "Uso: `/ask <tu pregunta>`, por ejemplo `/ask ¿Cómo me conecto a la VPN?`",
    slack_response_url_refused: "Lo siento, no puedo responder este comando: su dirección de respuesta no está permitida (consulta slack.response_url_hosts).",
    slack_mention_hint: "Hazme una pregunta sobre los documentos de tu organización, por ejemplo: _¿Cómo me conecto a la VPN?_",
    slack_prompts_title: "Pregunta sobre los documentos de tu organización",
    teams_empty_hint: "Hazme una pregunta sobre los documentos de tu organización.",
    teams_not_connected: "Esta organización todavía no está conectada a ragway; pídeselo a tu administrador.",
    helpful: "Esta respuesta fue útil",
    not_helpful: "Esta respuesta no fue útil",
    feedback_not_saved: "⚠️ Lo siento, no se pudo guardar tu opinión. Intenta de nuevo más tarde.",
    feedback_not_stored: "no se pudo guardar la opinión",
    cli_answer_footer: "(respuesta {mode}, {tokens} tokens)",
    cli_mode_extractive: "extractiva",
    cli_mode_generative: "generativa",
    cli_synced: "sincronizado: {seen} vistos, {added} nuevos, {changed} modificados, {unchanged} sin cambios, {removed} eliminados, {failed} con error ({chunks} fragmentos escritos, {mb} MB leídos; generación {generation})",
    cli_acl_changed: "cambió el acceso de {count} documento(s) (actualizado en su lugar, nada se reindexó)",
    cli_unsupported: "se omitieron {count} archivo(s) de formatos no compatibles",
    cli_failed: "  error: {uri}: {reason}",
    cli_removed: "  eliminado: {uri}",
    src_never_synced: "nunca sincronizada",
    src_last_sync: "última sincronización: {status} ({at})",
    src_paused: "en pausa ",
    src_no_schedule: "sin programación",
    src_created_folder: "fuente {id} creada; la sincronizan `ragway sync --tenant {tenant} --source {name}` o los trabajadores del gateway",
    src_created_web: "fuente {id} creada; la rastrean `ragway sync --tenant {tenant} --source {name}` o los trabajadores del gateway",
    src_created_upload: "fuente {id} creada; sube archivos con POST /api/v1/admin/tenants/{tenant}/sources/{id}/files",
    src_schedule: "programación de `{name}`: {schedule}",
    src_none: "ninguna",
    src_paused_done: "`{name}` en pausa",
    src_resumed: "`{name}` reanudada",
    src_removed: "`{name}` eliminada con {count} documento(s)",
    sync_already: "`{name}` ya tiene una sincronización {status} ({id})",
    sync_due: "{count} fuente(s) programada(s) pendiente(s)",
    sync_done: "sincronización {id} de la fuente {source}: {status} — {seen} vistos, {added} nuevos, {changed} modificados, {removed} eliminados, {failed} con error{message}",
    tenant_created: "tenant {id} creado",
    tenant_list_header: "id|nombre|generación|creado",
    tenant_renamed: "el tenant {id} ahora se llama {name}",
    tenant_show_labels: "tenant|creado|generación|documentos|fragmentos|fuentes|claves API",
    tenant_keys_summary: "{active} activas, {revoked} revocadas",
    tenant_deleted: "tenant {id} eliminado: {passages} fragmentos, {documents} documentos, {sources} fuentes, {keys} claves API, {admin_keys} claves de administración, {conversations} conversaciones",
    key_created: "clave API {id} ({name}) creada para el tenant {tenant}",
    key_store_now: "guárdala ahora: solo se muestra una vez",
    key_list_header: "id|nombre|creada|último uso|estado",
    key_revoked_status: "revocada",
    key_active_status: "activa",
    key_expired_status: "vencida",
    key_active_until_status: "activa hasta {at}",
    key_never_used: "nunca",
    key_revoked: "clave API {id} revocada",
    admin_key_created: "clave de administración {id} ({name}) creada para {scope}",
    admin_key_scope_all: "todos los tenants",
    admin_key_scope_tenant: "el tenant {id}",
    admin_key_list_header: "id|nombre|alcance|creada|estado",
    admin_key_all_tenants: "(todos los tenants)",
    admin_key_revoked: "clave de administración {id} revocada",
    usage_title: "uso del tenant {tenant} del {from} al {to} (días UTC)",
    usage_header: "día / usuario|solicitudes|en caché|tokens prompt|tokens respuesta|rechazos",
    usage_total: "total",
    widget_key_created: "clave de widget {id} ({name}) creada para el tenant {tenant}, permitida en {origins}",
    widget_key_embed: "insértala en la página de la intranet (reemplaza <gateway> con la dirección de este servidor):",
    widget_key_list_header: "clave|nombre|estado|orígenes",
    widget_key_origins: "la clave de widget {id} ahora está permitida en {origins}",
    widget_key_revoked: "clave de widget {id} revocada",
    demo_generative: "respuestas generativas",
    demo_extractive: "respuestas extractivas (define OPENAI_API_KEY o [llm] en ragway.toml para respuestas generativas)",
    demo_ready: "la demo de ragway está lista en http://{addr} — tenant `{tenant}`, {mode}",
    demo_api_key: "clave API (nueva en cada arranque): {key}",
    demo_try: "Prueba:",
    demo_question: "¿Cómo me conecto a la VPN?",
    demo_stream: "Recíbela en streaming con \"stream\": true (y curl -N).",
    demo_widget: "Widget de chat: abre http://{addr}/ (clave de widget {key}). Detén con Ctrl-C.",
    eval_header: "{dataset} (partición {split}): {documents} documentos → {chunks} fragmentos, {queries} preguntas; denso: {dense}",
    eval_none: "ninguno",
    eval_languages: "idiomas: preguntas {questions}, corpus {corpus}; análisis bm25 {analysis} (consulta: {query})",
    eval_ingest: "ingesta: {added} nuevos, {changed} modificados, {unchanged} sin cambios en {secs} s (tenant {tenant})",
    eval_settings: "fragmentación: max_tokens {max_tokens}, overlap {overlap}, prefix_context {prefix}; bm25 avg_len {avg_len}; rrf_k {rrf_k}, candidatos {candidates}, pesos bm25 {bm25} / denso {dense}",
    eval_columns: "modo|nDCG@10|Recall@10|Recall@100|MRR@10|preguntas/s|p50 ms|p99 ms",
    eval_extractive: "respuestas extractivas que contienen la respuesta de referencia (preguntas cuyo párrafo se recupera primero):",
    eval_extractive_row: "{share} % ({containing} de {first})",
    eval_note: "nota: {note}",
    eval_note_english_only: "{model} es un modelo solo en inglés: sus cifras densas sobre texto en español o entre idiomas muestran ese límite, \
        y la búsqueda híbrida responde las preguntas en español solo con BM25; \
        usa un modelo multilingüe compatible con OpenAI (p. ej. text-embedding-3-small) para buscar en español y entre idiomas",
    eval_note_cross_lingual: "las preguntas en otro idioma casi no comparten términos con los documentos: BM25 solo no puede responderlas; \
        un modelo de embeddings denso multilingüe sí",
};

/// The strings of `lang`.
pub fn messages(lang: Lang) -> &'static Messages {
    match lang {
        Lang::En => &EN,
        Lang::Es => &ES,
    }
}

/// `template` with each `{name}` replaced by its value.
pub fn fill(template: &str, values: &[(&str, &dyn std::fmt::Display)]) -> String {
    values
        .iter()
        .fold(template.to_owned(), |text, (name, value)| {
            text.replace(&format!("{{{name}}}"), &value.to_string())
        })
}

/// A document the CLI could not index, and why, in `lang`.
pub fn cli_failed(lang: Lang, uri: &str, reason: &str) -> String {
    let reason = error_text(lang, reason);
    fill(
        messages(lang).cli_failed,
        &[("uri", &uri), ("reason", &reason)],
    )
}

/// What the asker reads when an answer fails, by the failure's stable code (internals stay in
/// the log).
pub fn failure(lang: Lang, code: ErrorCode) -> &'static str {
    let m = messages(lang);
    match code {
        ErrorCode::LlmUnavailable => m.llm_unavailable,
        ErrorCode::EmbeddingsUnavailable => m.embeddings_unavailable,
        ErrorCode::RateLimited | ErrorCode::Overloaded => m.busy,
        _ => m.failed,
    }
}

/// A limit's refusal as a chat user reads it: "I can't answer right now: …".
pub fn refused(lang: Lang, refused: &Refused) -> String {
    let reason = match lang {
        Lang::En => refused.message(),
        Lang::Es => refused_es(refused),
    };
    fill(messages(lang).cannot_answer_now, &[("reason", &reason)])
}

/// The Spanish of [`Refused::message`]: whole sentences per limit (the English possessive
/// "{whose}" does not translate on its own).
fn refused_es(refused: &Refused) -> String {
    let (limit, name, needed) = (refused.status.limit, refused.limit_name, refused.needed);
    let after = refused.retry_after;
    // Whole seconds, rounded up as in the English message.
    let retry = (after.as_secs() + u64::from(after.subsec_nanos() > 0)).max(1);
    let whose = match name {
        "user_requests" => "tu límite",
        _ => "el límite de tu organización",
    };
    match name {
        "concurrent_streams" => format!(
            "demasiadas respuestas en curso: {whose} es de {limit} a la vez ({name}); intenta de nuevo en {retry} s"
        ),
        "tokens_per_minute" if needed > limit => format!(
            "esta solicitud necesita hasta {needed} tokens del LLM, más que toda la cuota de tu organización de \
             {limit} tokens por minuto ({name}); haz una pregunta más corta o pide a un administrador que aumente la cuota"
        ),
        "tokens_per_minute" => format!(
            "cuota de tokens excedida: {whose} de {limit} tokens del LLM por minuto ({name}) no alcanza ahora \
             para los {needed} tokens de esta solicitud; intenta de nuevo en {retry} s"
        ),
        "tokens_per_day" => format!(
            "cuota diaria de tokens agotada: {whose} de {limit} tokens del LLM por día ({name}) no alcanza para \
             los {needed} tokens de esta solicitud; se restablece a las 00:00 UTC, en {retry} s"
        ),
        "limiter_unavailable" => format!(
            "el limitador de solicitudes no está disponible y el gateway está configurado para rechazar ({name}); \
             intenta de nuevo en {retry} s"
        ),
        _ => format!(
            "límite de solicitudes excedido: {whose} es de {limit} solicitudes por minuto ({name}); intenta de nuevo en {retry} s"
        ),
    }
}

/// A locale tag for replies that declare one (Teams `locale`): the caller's own tag when it is
/// in the answer's language, else that language's tag for Mexico/US.
pub fn locale_tag(lang: Lang, caller: Option<&str>) -> String {
    match caller {
        Some(tag) if Lang::from_tag(tag) == Some(lang) => tag.to_owned(),
        _ => match lang {
            Lang::En => "en-US".to_owned(),
            Lang::Es => "es-MX".to_owned(),
        },
    }
}

#[cfg(test)]
mod tests {

    #[test]
    fn cli_column_labels_have_as_many_columns_in_every_language() {
        for lang in Lang::ALL {
            let m = messages(lang);
            assert_eq!(m.tenant_list_header.split('|').count(), 4);
            assert_eq!(m.tenant_show_labels.split('|').count(), 7);
            assert_eq!(m.key_list_header.split('|').count(), 5);
            assert_eq!(m.admin_key_list_header.split('|').count(), 5);
            assert_eq!(m.usage_header.split('|').count(), 6);
            assert_eq!(m.widget_key_list_header.split('|').count(), 4);
            assert_eq!(m.eval_columns.split('|').count(), 8);
        }
    }

    use std::time::Duration;

    use super::*;

    #[test]
    fn each_language_has_its_own_strings() {
        assert_eq!(
            messages(Lang::Es).not_found,
            "No encontré esto en tus documentos."
        );
        assert_eq!(
            messages(Lang::En).not_found,
            "I couldn't find this in your documents."
        );
        assert_eq!(messages(Lang::Es).sources, "Fuentes");
        assert_eq!(
            failure(Lang::Es, ErrorCode::LlmUnavailable),
            messages(Lang::Es).llm_unavailable
        );
        assert_eq!(
            failure(Lang::En, ErrorCode::InternalError),
            messages(Lang::En).failed
        );
        assert_ne!(
            failure(Lang::Es, ErrorCode::RateLimited),
            failure(Lang::En, ErrorCode::RateLimited)
        );
    }

    #[test]
    fn templates_are_filled_and_keep_their_placeholders_in_both_languages() {
        assert_eq!(
            fill(
                messages(Lang::Es).question_too_long,
                &[("max_chars", &4000)]
            ),
            "Tu pregunta tiene más de 4000 caracteres; por favor, acórtala."
        );
        for lang in Lang::ALL {
            let m = messages(lang);
            assert!(m.page.contains("{page}") && m.cannot_answer_now.contains("{reason}"));
            assert!(m.cli_synced.matches('{').count() == 9, "{lang}");
        }
    }

    #[test]
    fn refusals_are_whole_sentences_in_spanish() {
        let refused = Refused::simple("user_requests", 30, Duration::from_millis(1500));
        let es = super::refused(Lang::Es, &refused);
        assert!(
            es.starts_with("No puedo responder en este momento: límite de solicitudes excedido: tu límite es de 30"),
            "{es}"
        );
        assert!(es.contains("intenta de nuevo en 2 s"), "{es}");
        let en = super::refused(Lang::En, &refused);
        assert_eq!(
            en,
            format!("I can't answer right now: {}.", refused.message())
        );
    }

    #[test]
    fn reply_locales_follow_the_answer() {
        assert_eq!(locale_tag(Lang::Es, Some("es-ES")), "es-ES");
        assert_eq!(locale_tag(Lang::Es, Some("en-US")), "es-MX");
        assert_eq!(locale_tag(Lang::En, None), "en-US");
    }
}
