//! The runtime roles' names, chosen per deployment with two templates
//! (`--app-role-template`, `--reporting-role-template`; `{schema}_app` and
//! `{schema}_reporting` by default) and recorded in the database the first
//! time `up` runs (`public.migration_settings`). From then on the recorded
//! templates are the ones in force: a run that gives others is refused,
//! since renaming the roles of a deployed database is an operator's change
//! (docs/RUNBOOK.md), not a flag.
//!
//! The migrations' SQL names no role (its checksum is history): the runner
//! passes the templates in force to its one session as custom settings
//! ([`APP_ROLE_TEMPLATE_SETTING`], [`REPORTING_ROLE_TEMPLATE_SETTING`]), and
//! the runtime-roles migrations' `DO` blocks read them.

pub use schema_core::migration_kit::{
    APP_ROLE_TEMPLATE_SETTING, DEFAULT_APP_ROLE_TEMPLATE, DEFAULT_REPORTING_ROLE_TEMPLATE,
    REPORTING_ROLE_TEMPLATE_SETTING, RoleTemplates, RolesBlock, SCHEMA_PLACEHOLDER,
};
use sea_orm::{ConnectionTrait, DbBackend, DbErr, Statement, Value};

use crate::exit::Exit;

/// The table the templates in force are recorded in.
pub const SETTINGS_TABLE: &str = "migration_settings";

/// PostgreSQL's longest identifier, in bytes (`NAMEDATALEN - 1`).
const MAX_IDENTIFIER_BYTES: usize = 63;

/// Which of the two templates.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Template {
    App,
    Reporting,
}

impl Template {
    pub fn flag(self) -> &'static str {
        match self {
            Template::App => "--app-role-template",
            Template::Reporting => "--reporting-role-template",
        }
    }

    pub fn env(self) -> &'static str {
        match self {
            Template::App => "MIGRATION_APP_ROLE_TEMPLATE",
            Template::Reporting => "MIGRATION_REPORTING_ROLE_TEMPLATE",
        }
    }

    /// Its row in [`SETTINGS_TABLE`].
    fn setting(self) -> &'static str {
        match self {
            Template::App => "app_role_template",
            Template::Reporting => "reporting_role_template",
        }
    }

    fn pick(self, templates: &RoleTemplates) -> &str {
        match self {
            Template::App => &templates.app,
            Template::Reporting => &templates.reporting,
        }
    }
}

/// The templates a run was given (flags or environment); `None` means "the
/// recorded one, or the default on a database that has none recorded".
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ConfiguredTemplates {
    pub app: Option<String>,
    pub reporting: Option<String>,
}

impl ConfiguredTemplates {
    fn get(&self, which: Template) -> Option<&str> {
        match which {
            Template::App => self.app.as_deref(),
            Template::Reporting => self.reporting.as_deref(),
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum RoleNamesError {
    #[error(
        "invalid role name template `{template}` ({} / {}): {problem}; write lowercase letters, digits and `_` around `{{schema}}`, e.g. `acme_{{schema}}_rw`",
        which.flag(), which.env()
    )]
    Invalid {
        which: Template,
        template: String,
        problem: String,
    },
    #[error(
        "the app and reporting role name templates are both `{template}`: the two roles need different names; change {} or {}",
        Template::Reporting.flag(), Template::Reporting.env()
    )]
    Same { template: String },
    #[error(
        "this database's runtime roles are named by the template `{recorded}` ({} / {}, recorded in public.{SETTINGS_TABLE} on {recorded_at}), but this run gives `{given}`: the names of a deployed database's roles do not change with a flag; unset {} (or give `{recorded}`), or rename the roles as docs/RUNBOOK.md explains (\"Renaming the runtime roles\")",
        which.flag(), which.env(), which.env()
    )]
    Changed {
        which: Template,
        recorded: String,
        recorded_at: String,
        given: String,
    },
    #[error("{context}: {source}")]
    Database {
        context: &'static str,
        #[source]
        source: DbErr,
    },
}

impl RoleNamesError {
    /// The process exit code (the one table, [`Exit`]).
    pub fn exit(&self) -> Exit {
        match self {
            RoleNamesError::Invalid { .. } | RoleNamesError::Same { .. } => Exit::Usage,
            RoleNamesError::Changed { .. } => Exit::Refused,
            RoleNamesError::Database { .. } => Exit::Failed,
        }
    }
}

/// Checks one template against the schemas it will name roles for: it must
/// contain `{schema}` and give, for each schema, a plain lowercase
/// identifier of at most 63 bytes that PostgreSQL allows as a role name.
pub fn validate(which: Template, template: &str, schemas: &[&str]) -> Result<(), RoleNamesError> {
    let invalid = |problem: String| RoleNamesError::Invalid {
        which,
        template: template.to_owned(),
        problem,
    };
    if !template.contains(SCHEMA_PLACEHOLDER) {
        return Err(invalid(
            "it must contain `{schema}`, or every schema's roles would share one name".to_owned(),
        ));
    }
    // A schema's name is itself a plain lowercase identifier, so what the
    // template adds decides the characters and the start of every name.
    if let Some(c) = template
        .replace(SCHEMA_PLACEHOLDER, "")
        .chars()
        .find(|c| !(c.is_ascii_lowercase() || c.is_ascii_digit() || *c == '_'))
    {
        return Err(invalid(format!(
            "`{c}` is not allowed in a role name here (lowercase letters, digits and `_`)"
        )));
    }
    if template.starts_with(|c: char| c.is_ascii_digit()) {
        return Err(invalid(
            "every name it gives starts with a digit".to_owned(),
        ));
    }
    if template.starts_with("pg_") {
        return Err(invalid(
            "PostgreSQL reserves names starting with `pg_` for itself".to_owned(),
        ));
    }
    for schema in schemas {
        let name = template.replace(SCHEMA_PLACEHOLDER, schema);
        if name.len() > MAX_IDENTIFIER_BYTES {
            return Err(invalid(format!(
                "it gives `{name}` for schema `{schema}`, {} bytes: PostgreSQL names are at most {MAX_IDENTIFIER_BYTES}",
                name.len()
            )));
        }
    }
    Ok(())
}

/// Both templates, and that they name different roles.
pub fn validate_both(templates: &RoleTemplates, schemas: &[&str]) -> Result<(), RoleNamesError> {
    validate(Template::App, &templates.app, schemas)?;
    validate(Template::Reporting, &templates.reporting, schemas)?;
    let mut names = std::collections::BTreeSet::new();
    for schema in schemas {
        if !names.insert(templates.app_role(schema))
            || !names.insert(templates.reporting_role(schema))
        {
            return Err(RoleNamesError::Same {
                template: templates.reporting.clone(),
            });
        }
    }
    Ok(())
}

/// A clap value parser for the two flags: the template's own shape (the
/// names it gives each schema are checked against the catalog's schemas
/// before anything connects: `validate_both`).
pub fn parse_template(which: Template) -> impl Fn(&str) -> Result<String, String> + Clone {
    move |template: &str| {
        validate(which, template, &[])
            .map(|()| template.to_owned())
            .map_err(|err| err.to_string())
    }
}

/// The templates recorded in the database, as one JSON text (`NULL` when
/// none are): an expression the no-op check reads in its one statement.
pub(crate) fn recorded_sql() -> String {
    format!(
        "SELECT json_agg(json_build_object('name', name, 'value', value, 'at', \
                to_char(recorded_at AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI:SS \"UTC\"')))::text \
           FROM public.{SETTINGS_TABLE} WHERE name IN ('{}', '{}')",
        Template::App.setting(),
        Template::Reporting.setting()
    )
}

/// The templates [`recorded_sql`] read, and when; `None` when nothing is
/// recorded or the text is not what it writes.
pub(crate) fn parse_recorded(json: Option<&str>) -> Option<(RoleTemplates, String)> {
    #[derive(serde::Deserialize)]
    struct Row {
        name: String,
        value: String,
        at: String,
    }
    let rows: Vec<Row> = serde_json::from_str(json?).ok()?;
    let mut templates = RoleTemplates::default();
    let mut at = None;
    for row in rows {
        if row.name == Template::App.setting() {
            templates.app = row.value;
        } else {
            templates.reporting = row.value;
        }
        at = Some(row.at);
    }
    Some((templates, at?))
}

/// The templates recorded in the database, and when; `None` when nothing is
/// recorded (or the table cannot be read: then `up` fails writing it).
async fn recorded<C: ConnectionTrait>(db: &C) -> Result<Option<(RoleTemplates, String)>, DbErr> {
    let readable = db
        .query_one_raw(Statement::from_string(
            DbBackend::Postgres,
            format!(
                "SELECT to_regclass('public.{SETTINGS_TABLE}') IS NOT NULL \
                    AND has_table_privilege('public.{SETTINGS_TABLE}', 'SELECT') AS readable"
            ),
        ))
        .await?
        .map(|row| row.try_get::<bool>("", "readable"))
        .transpose()?
        .unwrap_or(false);
    if !readable {
        return Ok(None);
    }
    let json = db
        .query_one_raw(Statement::from_string(
            DbBackend::Postgres,
            format!("SELECT ({}) AS recorded", recorded_sql()),
        ))
        .await?
        .map(|row| row.try_get::<Option<String>>("", "recorded"))
        .transpose()?
        .flatten();
    Ok(parse_recorded(json.as_deref()))
}

/// The templates in force for this database: the recorded ones (refusing
/// configured ones that differ), else the configured ones or the defaults.
/// They are set on the session for the migrations' `DO` blocks to read.
pub async fn resolve<C: ConnectionTrait>(
    db: &C,
    configured: &ConfiguredTemplates,
    schemas: &[&str],
) -> Result<RoleTemplates, RoleNamesError> {
    let recorded = recorded(db)
        .await
        .map_err(|source| RoleNamesError::Database {
            context: "reading the recorded runtime role name templates",
            source,
        })?;
    let in_force = in_force(configured, recorded, schemas)?;
    apply(db, &in_force).await?;
    Ok(in_force)
}

/// The templates in force given what is `recorded` (no database): the
/// recorded ones, refusing configured ones that differ, else the configured
/// ones or the defaults.
pub(crate) fn in_force(
    configured: &ConfiguredTemplates,
    recorded: Option<(RoleTemplates, String)>,
    schemas: &[&str],
) -> Result<RoleTemplates, RoleNamesError> {
    let given = RoleTemplates {
        app: configured
            .app
            .clone()
            .unwrap_or_else(|| DEFAULT_APP_ROLE_TEMPLATE.to_owned()),
        reporting: configured
            .reporting
            .clone()
            .unwrap_or_else(|| DEFAULT_REPORTING_ROLE_TEMPLATE.to_owned()),
    };
    validate_both(&given, schemas)?;
    Ok(match recorded {
        Some((recorded, at)) => {
            refuse_changed(configured, &recorded, &at)?;
            recorded
        }
        None => given,
    })
}

fn refuse_changed(
    configured: &ConfiguredTemplates,
    recorded: &RoleTemplates,
    at: &str,
) -> Result<(), RoleNamesError> {
    for which in [Template::App, Template::Reporting] {
        if let Some(given) = configured.get(which)
            && given != which.pick(recorded)
        {
            return Err(RoleNamesError::Changed {
                which,
                recorded: which.pick(recorded).to_owned(),
                recorded_at: at.to_owned(),
                given: given.to_owned(),
            });
        }
    }
    Ok(())
}

/// Sets the templates on the session, for the runtime-roles migrations.
async fn apply<C: ConnectionTrait>(
    db: &C,
    templates: &RoleTemplates,
) -> Result<(), RoleNamesError> {
    db.execute_raw(Statement::from_sql_and_values(
        DbBackend::Postgres,
        "SELECT set_config($1, $2, false), set_config($3, $4, false)",
        [
            Value::from(APP_ROLE_TEMPLATE_SETTING),
            Value::from(templates.app.clone()),
            Value::from(REPORTING_ROLE_TEMPLATE_SETTING),
            Value::from(templates.reporting.clone()),
        ],
    ))
    .await
    .map_err(|source| RoleNamesError::Database {
        context: "setting the runtime role name templates on the session",
        source,
    })?;
    Ok(())
}

/// Records `in_force` unless templates are recorded already (then they must
/// be the same), and sets them on the session again: `up` calls this under
/// the migration lock, before it applies anything. Only the first `up`
/// writes; the table is readable by every role (it holds no secret), so later
/// deploys need nothing more than reading it.
pub async fn record<C: ConnectionTrait>(
    db: &C,
    in_force: &RoleTemplates,
) -> Result<(), RoleNamesError> {
    let database = |source| RoleNamesError::Database {
        context: "recording the runtime role name templates in public.migration_settings",
        source,
    };
    let compare = |recorded: &RoleTemplates, at: &str| {
        let configured = ConfiguredTemplates {
            app: Some(in_force.app.clone()),
            reporting: Some(in_force.reporting.clone()),
        };
        refuse_changed(&configured, recorded, at)
    };
    if let Some((recorded, at)) = recorded(db).await.map_err(database)? {
        compare(&recorded, &at)?;
        return apply(db, in_force).await;
    }
    db.execute_unprepared(&format!(
        "CREATE TABLE IF NOT EXISTS public.{SETTINGS_TABLE} (\
           name text PRIMARY KEY, \
           value text NOT NULL, \
           recorded_at timestamptz NOT NULL DEFAULT now(), \
           recorded_by text NOT NULL DEFAULT current_user); \
         GRANT SELECT ON public.{SETTINGS_TABLE} TO PUBLIC"
    ))
    .await
    .map_err(database)?;
    db.execute_raw(Statement::from_sql_and_values(
        DbBackend::Postgres,
        format!(
            "INSERT INTO public.{SETTINGS_TABLE} (name, value) VALUES ($1, $2), ($3, $4) \
             ON CONFLICT (name) DO NOTHING"
        ),
        [
            Value::from(Template::App.setting()),
            Value::from(in_force.app.clone()),
            Value::from(Template::Reporting.setting()),
            Value::from(in_force.reporting.clone()),
        ],
    ))
    .await
    .map_err(database)?;
    if let Some((recorded, at)) = recorded(db).await.map_err(database)? {
        compare(&recorded, &at)?;
    }
    apply(db, in_force).await
}

/// The templates set on this session (the defaults when none is set): what
/// the runtime-roles migrations' `DO` blocks will compute their names from.
pub async fn in_session<C: ConnectionTrait>(db: &C) -> Result<RoleTemplates, DbErr> {
    let row = db
        .query_one_raw(Statement::from_sql_and_values(
            DbBackend::Postgres,
            "SELECT coalesce(nullif(current_setting($1, true), ''), $2) AS app, \
                    coalesce(nullif(current_setting($3, true), ''), $4) AS reporting",
            [
                Value::from(APP_ROLE_TEMPLATE_SETTING),
                Value::from(DEFAULT_APP_ROLE_TEMPLATE),
                Value::from(REPORTING_ROLE_TEMPLATE_SETTING),
                Value::from(DEFAULT_REPORTING_ROLE_TEMPLATE),
            ],
        ))
        .await?
        .ok_or_else(|| DbErr::Custom("no answer to the role templates query".into()))?;
    Ok(RoleTemplates {
        app: row.try_get("", "app")?,
        reporting: row.try_get("", "reporting")?,
    })
}

/// The runtime-roles `DO` blocks among the statements of `plan`.
pub fn blocks(plan: &[crate::source::plan::Planned]) -> impl Iterator<Item = RolesBlock> + '_ {
    plan.iter()
        .flat_map(|planned| &planned.script.statements)
        .filter_map(|statement| RolesBlock::read(&statement.sql))
}

/// The runtime roles the pending migrations of `plan` would create: those
/// their `DO` blocks name, under the templates set on this session, that the
/// server does not have yet.
pub async fn to_create<C: ConnectionTrait>(
    db: &C,
    plan: &[crate::source::plan::Planned],
) -> Result<Vec<String>, DbErr> {
    let blocks: Vec<RolesBlock> = blocks(plan).filter(|block| block.creates).collect();
    if blocks.is_empty() {
        return Ok(Vec::new());
    }
    let templates = in_session(db).await?;
    let names: Vec<String> = blocks
        .iter()
        .flat_map(|block| block.roles(&templates))
        .collect();
    let rows = db
        .query_all_raw(Statement::from_sql_and_values(
            DbBackend::Postgres,
            "SELECT n.name FROM unnest($1::text[]) WITH ORDINALITY AS n(name, ord) \
              WHERE NOT EXISTS (SELECT FROM pg_catalog.pg_roles r WHERE r.rolname = n.name) \
              ORDER BY n.ord",
            [Value::from(names)],
        ))
        .await?;
    rows.iter().map(|row| row.try_get("", "name")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    const SCHEMAS: [&str; 4] = ["core", "academy", "talent", "vacancy"];

    #[test]
    fn templates_must_name_each_schema_with_a_plain_short_identifier() {
        assert!(validate_both(&RoleTemplates::default(), &SCHEMAS).is_ok());
        validate(Template::App, "acme_{schema}_rw", &SCHEMAS).unwrap();
        for (template, problem) in [
            ("acme_rw", "must contain `{schema}`"),
            ("Acme_{schema}", "`A` is not allowed"),
            ("acme-{schema}", "`-` is not allowed"),
            ("{schema}_{x}", "`{` is not allowed"),
            ("1_{schema}", "starts with a digit"),
            ("pg_{schema}", "reserves names starting with `pg_`"),
            (
                "a_very_long_deployment_prefix_for_the_runtime_roles_{schema}_readwrite",
                "66 bytes: PostgreSQL names are at most 63",
            ),
        ] {
            let message = validate(Template::App, template, &SCHEMAS)
                .unwrap_err()
                .to_string();
            assert!(message.contains(problem), "{template}: {message}");
            assert!(
                message.contains("--app-role-template")
                    && message.contains("MIGRATION_APP_ROLE_TEMPLATE"),
                "{message}"
            );
            assert!(
                message.starts_with("invalid role name template"),
                "{message}"
            );
        }
        let same = RoleTemplates {
            app: "x_{schema}".to_owned(),
            reporting: "x_{schema}".to_owned(),
        };
        assert!(matches!(
            validate_both(&same, &SCHEMAS),
            Err(RoleNamesError::Same { .. })
        ));
    }
}
