//! Error messages for people at a terminal (the `ragway` CLI), in their language.
//!
//! Errors are raised in English everywhere (the REST API and the logs keep them English, see the
//! module above), so the English text is the key, as with gettext's msgids: each entry pairs an
//! English template with its Spanish. A `{name}` placeholder matches any text and is carried over
//! as is, except `{detail}`, whose text is itself translated — that is how wrapped errors
//! ("invalid configuration: invalid tenant id …") come out whole in Spanish. A message no entry
//! matches is shown as raised. The test at the bottom raises every one of them through the real
//! code, so an English text changed without its entry fails it.

use ragway_ingest::lang::Lang;

use super::fill;

/// English template → Spanish template. More specific entries first: the first whole match wins.
static ES: &[(&str, &str)] = &[
    // Confirmations and arguments of the CLI's own commands.
    (
        "deleting tenant {id} removes its passages, documents, sources, keys and conversations and cannot be undone; add --yes",
        "eliminar el tenant {id} borra sus fragmentos, documentos, fuentes, claves y conversaciones, y no se puede deshacer; agrega --yes",
    ),
    (
        "removing `{name}` deletes its documents from the index; add --yes to confirm",
        "quitar `{name}` borra sus documentos del índice; agrega --yes para confirmar",
    ),
    (
        "give a schedule (e.g. `every 6h`) or --clear",
        "indica una programación (p. ej. `every 6h`) o --clear",
    ),
    (
        "tenant `{tenant}` has no source `{name}`",
        "el tenant `{tenant}` no tiene una fuente `{name}`",
    ),
    (
        "`{name}` is paused; resume it first",
        "`{name}` está en pausa; reanúdala primero",
    ),
    (
        "{count} sync(s) failed",
        "{count} sincronización(es) con error",
    ),
    (
        "the demo folder {path} does not exist; run from the repository root or pass --demo-dir",
        "la carpeta de la demo {path} no existe; ejecuta desde la raíz del repositorio o usa --demo-dir",
    ),
    (
        "mode {mode} needs a dense embedder: configure [embeddings] or pass --local-model",
        "el modo {mode} necesita un modelo de embeddings denso: configura [embeddings] o usa --local-model",
    ),
    (
        "cannot listen for metrics on {addr}: {detail}",
        "no se pueden servir las métricas en {addr}: {detail}",
    ),
    (
        "cannot listen on {addr}: {detail}",
        "no se puede escuchar en {addr}: {detail}",
    ),
    // Schedules (`sources add-* --schedule`, `sources schedule`).
    (
        "`every {text}`: expected a number then s, m, h or d, e.g. `every 6h`",
        "`every {text}`: se esperaba un número seguido de s, m, h o d, p. ej. `every 6h`",
    ),
    (
        "`every {text}`: unknown unit `{unit}` (use s, m, h or d)",
        "`every {text}`: unidad desconocida `{unit}` (usa s, m, h o d)",
    ),
    (
        "`every {text}`: the interval must be positive",
        "`every {text}`: el intervalo debe ser positivo",
    ),
    (
        "`{text}` is more often than the allowed minimum of {secs}s",
        "`{text}` es más frecuente que el mínimo permitido de {secs} s",
    ),
    (
        "`{text}` fires more often than the allowed minimum of {secs}s",
        "`{text}` se ejecuta más seguido que el mínimo permitido de {secs} s",
    ),
    (
        "`{text}`: expected `every <n>m|h|d` or a cron expression with 5 fields (minute hour day month weekday, UTC)",
        "`{text}`: se esperaba `every <n>m|h|d` o una expresión cron de 5 campos (minuto hora día mes día-de-la-semana, UTC)",
    ),
    (
        "`{text}` is not a valid cron expression: {error}",
        "`{text}` no es una expresión cron válida: {error}",
    ),
    ("`{text}` never fires", "`{text}` nunca se ejecuta"),
    // Periods (`ragway usage --from/--to`).
    (
        "`{name}` must be a date as YYYY-MM-DD, got `{value}`",
        "`{name}` debe ser una fecha AAAA-MM-DD, se recibió `{value}`",
    ),
    (
        "`from` ({from}) is after `to` ({to})",
        "`from` ({from}) es posterior a `to` ({to})",
    ),
    (
        "the period may span at most {days} days",
        "el periodo puede abarcar como máximo {days} días",
    ),
    // Validation shared with the admin API.
    ("`{path}` is not a folder", "`{path}` no es una carpeta"),
    (
        "invalid tenant id {id}: use 1-64 lowercase letters, digits, '-' or '_', starting with a letter or digit",
        "id de tenant no válido {id}: usa de 1 a 64 letras minúsculas, dígitos, '-' o '_', y empieza con una letra o un dígito",
    ),
    (
        "invalid group {group}: 1-128 characters, no surrounding spaces or control characters, not `*`",
        "grupo no válido {group}: de 1 a 128 caracteres, sin espacios al inicio o al final ni caracteres de control, y no `*`",
    ),
    (
        "a widget key needs at least one allowed origin",
        "una clave de widget necesita al menos un origen permitido",
    ),
    (
        "a widget key may list at most {count} origins",
        "una clave de widget admite como máximo {count} orígenes",
    ),
    // Configuration and secrets.
    (
        "{setting} names the environment variable `{env}`, which is not set",
        "{setting} nombra la variable de entorno `{env}`, que no está definida",
    ),
    (
        "the environment variable {env} (the API key) is not set",
        "la variable de entorno {env} (la clave de la API) no está definida",
    ),
    ("configuration: {detail}", "configuración: {detail}"),
    (
        "cannot read {path}: {detail}",
        "no se puede leer {path}: {detail}",
    ),
    (
        "cannot create the data directory {path}: {detail}",
        "no se puede crear el directorio de datos {path}: {detail}",
    ),
    (
        "cannot open the catalog at {url}: {detail}",
        "no se puede abrir el catálogo en {url}: {detail}",
    ),
    (
        "limits: cannot reach Redis at {url}: {detail}",
        "límites: no se puede conectar con Redis en {url}: {detail}",
    ),
    // Answers from the terminal (`ragway ask`).
    (
        "the question does not fit the model's context window ({needed} tokens needed, {budget} available)",
        "la pregunta no cabe en la ventana de contexto del modelo (necesita {needed} tokens, hay {budget} disponibles)",
    ),
    // What was not found or already exists (the catalog's nouns).
    (
        "not found: tenant {id} (create it with `ragway tenants create {again}`)",
        "no existe el tenant {id} (créalo con `ragway tenants create {again}`)",
    ),
    ("not found: tenant {id}", "no existe el tenant {id}"),
    ("not found: source {name}", "no existe la fuente {name}"),
    (
        "not found: active api key {id}",
        "no existe la clave API activa {id}",
    ),
    ("not found: api key {id}", "no existe la clave API {id}"),
    (
        "not found: active admin key {id}",
        "no existe la clave de administración activa {id}",
    ),
    (
        "not found: admin key {id}",
        "no existe la clave de administración {id}",
    ),
    (
        "not found: active widget key {id}",
        "no existe la clave de widget activa {id}",
    ),
    (
        "not found: widget key {id}",
        "no existe la clave de widget {id}",
    ),
    ("not found: sync {id}", "no existe la sincronización {id}"),
    ("not found: {detail}", "no se encontró: {detail}"),
    ("already exists: tenant {id}", "ya existe el tenant {id}"),
    (
        "already exists: a source named `{name}`",
        "ya existe una fuente llamada `{name}`",
    ),
    (
        "already exists: a sync of this source is already queued or running",
        "ya hay una sincronización de esta fuente en cola o en curso",
    ),
    ("already exists: {detail}", "ya existe: {detail}"),
    // Why a sync run ended early (`ragway sync`).
    (
        "interrupted: the process running it stopped during the sync; queued again",
        "interrumpida: el proceso que la ejecutaba se detuvo durante la sincronización; se puso en cola de nuevo",
    ),
    (
        "cancelled: the source was paused",
        "cancelada: la fuente se pausó",
    ),
    // The kinds of failure (`IngestError`, `CatalogError`, `GatewayError`) around a detail.
    (
        "the data directory {path} is in use by another ragway process; stop it or use its admin API",
        "otro proceso de ragway está usando el directorio de datos {path}; detenlo o usa su API de administración",
    ),
    (
        "invalid configuration: {detail}",
        "configuración no válida: {detail}",
    ),
    (
        "I/O error on {path}: {detail}",
        "error de E/S en {path}: {detail}",
    ),
    ("I/O error: {detail}", "error de E/S: {detail}"),
    (
        "cannot parse {uri}: {detail}",
        "no se pudo leer {uri}: {detail}",
    ),
    (
        "{uri} is too large ({size} bytes, limit {limit} bytes)",
        "{uri} es demasiado grande ({size} bytes; el límite es {limit} bytes)",
    ),
    (
        "embedding request failed: {detail}",
        "falló la solicitud de embeddings: {detail}",
    ),
    (
        "vector store error: {detail}",
        "error del índice vectorial: {detail}",
    ),
    ("catalog error: {detail}", "error del catálogo: {detail}"),
    (
        "catalog migration failed: {detail}",
        "falló la migración del catálogo: {detail}",
    ),
    (
        "background task failed: {detail}",
        "falló una tarea en segundo plano: {detail}",
    ),
    (
        "the language model failed: {detail}",
        "falló el modelo de lenguaje: {detail}",
    ),
    (
        "prompt template error: {detail}",
        "error en la plantilla del prompt: {detail}",
    ),
    // What the operating system says most often (Rust's std reports it in English).
    (
        "No such file or directory (os error 2)",
        "no existe el archivo o directorio (error del SO 2)",
    ),
    (
        "Permission denied (os error 13)",
        "permiso denegado (error del SO 13)",
    ),
    (
        "Address already in use (os error 98)",
        "la dirección ya está en uso (error del SO 98)",
    ),
    (
        "Connection refused (os error 111)",
        "conexión rechazada (error del SO 111)",
    ),
];

/// `message`, an English error text, as a person reading `lang` should see it.
pub fn error_text(lang: Lang, message: &str) -> String {
    match lang {
        Lang::En => message.to_owned(),
        Lang::Es => translate(ES, message, &mut Vec::new()).unwrap_or_else(|| message.to_owned()),
    }
}

/// `message` through the first entry of `table` it fits; `used` collects the entries' indexes.
fn translate(table: &[(&str, &str)], message: &str, used: &mut Vec<usize>) -> Option<String> {
    table
        .iter()
        .enumerate()
        .find_map(|(index, (english, spanish))| {
            let captured = capture(english, message)?;
            used.push(index);
            let values: Vec<(&str, String)> = captured
                .into_iter()
                .map(|(name, text)| {
                    let text = if name == "detail" {
                        translate(table, text, used).unwrap_or_else(|| text.to_owned())
                    } else {
                        text.to_owned()
                    };
                    (name, text)
                })
                .collect();
            let values: Vec<(&str, &dyn std::fmt::Display)> = values
                .iter()
                .map(|(name, text)| (*name, text as &dyn std::fmt::Display))
                .collect();
            Some(fill(spanish, &values))
        })
}

/// The placeholders' texts when `message` is an instance of `template`, else `None`. Each
/// placeholder takes the shortest text after which the rest still matches.
fn capture<'t, 'm>(template: &'t str, message: &'m str) -> Option<Vec<(&'t str, &'m str)>> {
    let Some(open) = template.find('{') else {
        return (template == message).then(Vec::new);
    };
    let literal = &template[..open];
    let rest_of_message = message.strip_prefix(literal)?;
    let close = open + template[open..].find('}')?;
    let name = &template[open + 1..close];
    let after = &template[close + 1..];
    // The placeholder ends where the template's next literal text starts (or at the end).
    let next_literal = after.split('{').next().unwrap_or_default();
    if next_literal.is_empty() {
        if after.is_empty() && !rest_of_message.is_empty() {
            return Some(vec![(name, rest_of_message)]);
        }
        // Two placeholders in a row are never written: they could not be told apart.
        return None;
    }
    rest_of_message
        .match_indices(next_literal)
        .filter(|(at, _)| *at > 0)
        .find_map(|(at, _)| {
            let mut captured = capture(after, &rest_of_message[at..])?;
            captured.insert(0, (name, &rest_of_message[..at]));
            Some(captured)
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn english_is_shown_as_raised() {
        let message = "not found: tenant acme";
        assert_eq!(error_text(Lang::En, message), message);
    }

    #[test]
    fn placeholders_carry_over_and_details_are_translated_too() {
        assert_eq!(
            error_text(Lang::Es, "not found: tenant acme"),
            "no existe el tenant acme"
        );
        assert_eq!(
            error_text(
                Lang::Es,
                "I/O error on /srv/docs: No such file or directory (os error 2)"
            ),
            "error de E/S en /srv/docs: no existe el archivo o directorio (error del SO 2)"
        );
        assert_eq!(
            error_text(
                Lang::Es,
                "embedding request failed: HTTP 401 from the server"
            ),
            "falló la solicitud de embeddings: HTTP 401 from the server"
        );
    }

    #[test]
    fn a_message_no_entry_knows_is_shown_as_raised() {
        let message = "something nobody translated";
        assert_eq!(error_text(Lang::Es, message), message);
        // A literal prefix alone is no match: the whole message must fit the template.
        assert_eq!(
            error_text(Lang::Es, "`x` never fires, sadly"),
            "`x` never fires, sadly"
        );
    }

    /// Every entry is reached by a message the code really raises (the CLI's own messages, which
    /// live inside command handlers, are checked end to end in `gateway/tests/cli.rs`).
    #[test]
    fn every_entry_translates_a_message_the_code_raises() {
        use ragway_catalog::CatalogError;
        use ragway_ingest::IngestError;

        use crate::error::GatewayError;
        use crate::sources::schedule::Schedule;

        let minute = chrono::Duration::minutes(1);
        let hour = chrono::Duration::hours(1);
        let schedule = |text: &str, min| Schedule::parse(text, min).err().unwrap();
        let ingest = |err: IngestError| GatewayError::from(err).to_string();
        let catalog = |err: CatalogError| GatewayError::from(err).to_string();
        let not_found = |what: &str| catalog(CatalogError::NotFound(what.to_owned()));
        let no_env: &dyn Fn(&str) -> Option<String> = &|_| None;
        let missing = || std::io::Error::from_raw_os_error(2);
        let mut raised = vec![
            schedule("every xh", minute),
            schedule("every 6y", minute),
            schedule("every 0h", minute),
            schedule("every 5m", hour),
            schedule("*/5 * * * *", hour),
            schedule("0 0 * *", minute),
            schedule("0 99 * * *", minute),
            schedule("0 0 30 2 *", minute),
            crate::usage::period(Some("yesterday"), None).unwrap_err(),
            crate::usage::period(Some("2026-02-01"), Some("2026-01-01")).unwrap_err(),
            crate::usage::period(Some("2020-01-01"), Some("2026-01-01")).unwrap_err(),
            crate::sources::folders::FolderRefused::NotAFolder("/srv/docs/a.md".into()).to_string(),
            catalog(ragway_catalog::validate_tenant_id("Acme Corp").unwrap_err()),
            catalog(ragway_catalog::validate_group(" hr").unwrap_err()),
            catalog(ragway_catalog::widget_keys::normalize_origins(&[]).unwrap_err()),
            catalog(
                ragway_catalog::widget_keys::normalize_origins(
                    &(0..100)
                        .map(|i| format!("https://h{i}.example"))
                        .collect::<Vec<_>>(),
                )
                .unwrap_err(),
            ),
            crate::channels::bots::secret(no_env, "slack.bot_token_env", "SLACK_BOT_TOKEN")
                .unwrap_err()
                .to_string(),
            ingest(ragway_ingest::openai::api_key(Some("TEST_UNSET_OPENAI_KEY")).unwrap_err()),
            not_found("tenant acme (create it with `ragway tenants create acme`)"),
            not_found("tenant acme"),
            not_found("source handbook"),
            not_found("active api key k1"),
            not_found("api key k1"),
            not_found("active admin key a1"),
            not_found("admin key a1"),
            not_found("active widget key w1"),
            not_found("widget key w1"),
            not_found("sync s1"),
            not_found("profile legal"),
            catalog(CatalogError::AlreadyExists("tenant acme".into())),
            catalog(CatalogError::AlreadyExists(
                "a source named `handbook`".into(),
            )),
            catalog(CatalogError::AlreadyExists(
                "a sync of this source is already queued or running".into(),
            )),
            catalog(CatalogError::AlreadyExists("profile legal".into())),
            ingest(IngestError::StoreLocked("/var/lib/ragway".into())),
            ingest(IngestError::io("/srv/docs", missing())),
            GatewayError::Io(missing()).to_string(),
            ingest(IngestError::Parse {
                uri: "file:///a.pdf".into(),
                reason: "no PDF header".into(),
            }),
            ingest(IngestError::TooLarge {
                uri: "file:///a.pdf".into(),
                size: 9,
                limit: 1,
            }),
            ingest(IngestError::Embedding("HTTP 401".into())),
            ingest(IngestError::Store("segment".into())),
            catalog(CatalogError::Database(sqlx::Error::PoolTimedOut)),
            catalog(CatalogError::Migration(
                sqlx::migrate::MigrateError::VersionMissing(3),
            )),
            // What a sync passes on from the catalog reads the same.
            ingest(IngestError::from(CatalogError::NotFound(
                "source handbook".into(),
            ))),
            ingest(IngestError::Task("join".into())),
            GatewayError::Llm("HTTP 500".into()).to_string(),
            GatewayError::Template("undefined value".into()).to_string(),
            std::io::Error::from_raw_os_error(13).to_string(),
            std::io::Error::from_raw_os_error(98).to_string(),
            std::io::Error::from_raw_os_error(111).to_string(),
        ];
        // Raised inside command handlers and startup code, and checked there.
        raised.extend(
            [
                "deleting tenant acme removes its passages, documents, sources, keys and conversations and cannot be undone; add --yes",
                "removing `handbook` deletes its documents from the index; add --yes to confirm",
                "give a schedule (e.g. `every 6h`) or --clear",
                "tenant `acme` has no source `wiki`",
                "`handbook` is paused; resume it first",
                "2 sync(s) failed",
                "the demo folder ./examples/handbook does not exist; run from the repository root or pass --demo-dir",
                "mode dense needs a dense embedder: configure [embeddings] or pass --local-model",
                "cannot listen for metrics on 0.0.0.0:9090: Address already in use (os error 98)",
                "cannot listen on 0.0.0.0:8080: Address already in use (os error 98)",
                "configuration: invalid type: found string, expected u16 for key `addr`",
                "cannot read ragway.toml: No such file or directory (os error 2)",
                "cannot create the data directory /data: Permission denied (os error 13)",
                "cannot open the catalog at sqlite:///data/x.db: Connection refused (os error 111)",
                "limits: cannot reach Redis at redis://127.0.0.1:6379: Connection refused (os error 111)",
                "the question does not fit the model's context window (9000 tokens needed, 4096 available)",
                "interrupted: the process running it stopped during the sync; queued again",
                "cancelled: the source was paused",
            ]
            .map(str::to_owned),
        );
        let mut used = Vec::new();
        for message in &raised {
            let spanish = translate(ES, message, &mut used);
            assert!(spanish.is_some(), "no Spanish for: {message}");
        }
        let unused: Vec<&str> = (0..ES.len())
            .filter(|index| !used.contains(index))
            .map(|index| ES[index].0)
            .collect();
        assert!(
            unused.is_empty(),
            "entries no raised message reaches: {unused:#?}"
        );
    }

    #[test]
    fn the_table_has_no_placeholders_in_a_row_and_keeps_every_placeholder() {
        for (english, spanish) in ES {
            assert!(!english.contains("}{"), "{english}");
            let names = |text: &str| {
                let mut names: Vec<String> = text
                    .split('{')
                    .skip(1)
                    .filter_map(|part| part.split_once('}').map(|(name, _)| name.to_owned()))
                    .collect();
                names.sort();
                names
            };
            assert_eq!(names(english), names(spanish), "{english}");
        }
    }
}
