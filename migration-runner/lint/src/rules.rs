//! The catalog of rules: every id the linter can report, its severity, the
//! reason in one line and the safe alternative. squawk's rules keep squawk's
//! ids; the product's own rules are listed first.

use squawk_linter::Rule as Squawk;

use super::finding::{Severity, Target};

/// Where a rule is implemented.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Origin {
    /// This product's rule, read from the syntax tree of `sql_objects`
    /// (registered in `PRODUCT_RULES`).
    Product,
    /// This product's rule about the migration's own `// lint:` comments
    /// (`allow.rs`).
    Comment,
    /// A rule of the `squawk-linter` crate, run with its own parser.
    Squawk(Squawk),
}

/// One rule as documented.
#[derive(Debug, Clone, Copy)]
pub struct RuleInfo {
    pub id: &'static str,
    /// Its severity on a plain PostgreSQL server (see [`severity`]).
    pub severity: Severity,
    pub reason: &'static str,
    pub fix: &'static str,
    pub origin: Origin,
}

pub const UNQUALIFIED_TABLE: &str = "unqualified-table";
pub const SCHEMA_OWNERSHIP: &str = "schema-ownership";
pub const CROSS_SCHEMA_FOREIGN_KEY: &str = "cross-schema-foreign-key";
pub const DATA_IN_MIGRATION: &str = "data-in-migration";
pub const UNPARSED_STATEMENT: &str = "unparsed-statement";
pub const REFUSED_IN_TRANSACTION: &str = "refused-in-transaction";
pub const ALLOW_WITHOUT_REASON: &str = "allow-without-reason";
pub const INVALID_LINT_COMMENT: &str = "invalid-lint-comment";

const fn product(
    id: &'static str,
    severity: Severity,
    reason: &'static str,
    fix: &'static str,
) -> RuleInfo {
    RuleInfo {
        id,
        severity,
        reason,
        fix,
        origin: Origin::Product,
    }
}

const fn comment(
    id: &'static str,
    severity: Severity,
    reason: &'static str,
    fix: &'static str,
) -> RuleInfo {
    RuleInfo {
        origin: Origin::Comment,
        ..product(id, severity, reason, fix)
    }
}

const fn squawk(
    rule: Squawk,
    id: &'static str,
    severity: Severity,
    reason: &'static str,
    fix: &'static str,
) -> RuleInfo {
    RuleInfo {
        id,
        severity,
        reason,
        fix,
        origin: Origin::Squawk(rule),
    }
}

use Severity::{Error, Warning};

const NON_TRANSACTIONAL: &str =
    "put it alone in its own migration whose `use_transaction()` returns `Some(false)`";
const EXPAND_CONTRACT: &str = "expand and contract: add the new object, write to both, move every reader, \
     and remove the old one in a later migration";
const REMOVE_LATER: &str = "first ship code that no longer uses it; then remove it in its own migration \
     with `// lint: allow <rule> -- <why it is safe now>`";

/// Every rule, the product's first.
pub const RULES: &[RuleInfo] = &[
    product(
        UNQUALIFIED_TABLE,
        Error,
        "a table is named without its schema, so `search_path` decides which schema it means",
        "name it with its schema (`<schema>.<table>`)",
    ),
    product(
        SCHEMA_OWNERSHIP,
        Error,
        "the migration touches a schema its crate does not own and it does not declare",
        "move that change to a migration of the schema's own crate, or declare the cross-schema step \
         with `// migrate: touches <schema>` in the migration's source",
    ),
    product(
        CROSS_SCHEMA_FOREIGN_KEY,
        Warning,
        "a foreign key links two app schemas; app schemas should reference `core` identities, not each other \
         (on Citus it cannot be created: an error there)",
        "reference the `core` identity both sides share (for example `core.users`), or keep the id \
         without a foreign key and check it in the application",
    ),
    product(
        DATA_IN_MIGRATION,
        Error,
        "a structural migration writes data (INSERT, UPDATE, DELETE, MERGE, COPY, TRUNCATE, CREATE TABLE AS)",
        "move the data change to a backfill; a migration changes structure only",
    ),
    product(
        REFUSED_IN_TRANSACTION,
        Error,
        "PostgreSQL refuses this statement inside a transaction block, and the runner wraps this migration in one",
        NON_TRANSACTIONAL,
    ),
    product(
        UNPARSED_STATEMENT,
        Error,
        "the SQL parser cannot read the statement, so no rule can vouch for it",
        "emit SQL PostgreSQL accepts (the error says where it stops)",
    ),
    comment(
        ALLOW_WITHOUT_REASON,
        Error,
        "an allow-comment gives no reason, so it exempts nothing",
        "write `// lint: allow <rule> -- <why this is safe>`",
    ),
    comment(
        INVALID_LINT_COMMENT,
        Error,
        "a `// lint:` comment names no rule or a rule that does not exist, so it exempts nothing",
        "write `// lint: allow <rule>[, <rule>...] -- <reason>` with ids from `lint::rules()`",
    ),
    // Locks held while a table is scanned or rewritten.
    squawk(
        Squawk::RequireConcurrentIndexCreation,
        "require-concurrent-index-creation",
        Error,
        "building an index without CONCURRENTLY blocks writes to the table until it is built",
        "`CREATE INDEX CONCURRENTLY`, alone in its own migration whose `use_transaction()` returns `Some(false)`",
    ),
    squawk(
        Squawk::RequireConcurrentIndexDeletion,
        "require-concurrent-index-deletion",
        Error,
        "dropping an index without CONCURRENTLY blocks reads and writes of its table",
        "`DROP INDEX CONCURRENTLY`, alone in its own migration whose `use_transaction()` returns `Some(false)`",
    ),
    squawk(
        Squawk::RequireConcurrentReindex,
        "require-concurrent-reindex",
        Error,
        "REINDEX without CONCURRENTLY blocks writes to the table",
        "`REINDEX ... CONCURRENTLY`, alone in a non-transactional migration",
    ),
    squawk(
        Squawk::RequireConcurrentPartitionDetach,
        "require-concurrent-partition-detach",
        Error,
        "detaching a partition without CONCURRENTLY blocks reads and writes of the parent",
        "`DETACH PARTITION ... CONCURRENTLY`, alone in a non-transactional migration",
    ),
    squawk(
        Squawk::ConstraintMissingNotValid,
        "constraint-missing-not-valid",
        Error,
        "adding a constraint to an existing table scans it while holding a lock that blocks writes",
        "add it `NOT VALID`, then `VALIDATE CONSTRAINT` in a later migration",
    ),
    squawk(
        Squawk::AddingForeignKeyConstraint,
        "adding-foreign-key-constraint",
        Error,
        "a new foreign key on an existing table scans it and blocks writes to both tables",
        "add it `NOT VALID`, then `VALIDATE CONSTRAINT` in a later migration",
    ),
    squawk(
        Squawk::AddingFieldWithDefault,
        "adding-field-with-default",
        Error,
        "a column with a volatile default (or a generated column) rewrites the table under an exclusive lock",
        "add the column without that default, fill existing rows in a backfill, then set the default",
    ),
    squawk(
        Squawk::AddingNotNullableField,
        "adding-not-nullable-field",
        Error,
        "SET NOT NULL scans the whole table under an exclusive lock",
        "add `CHECK (<column> IS NOT NULL) NOT VALID`, validate it in a later migration, then SET NOT NULL \
         (PostgreSQL 12+ then skips the scan) and drop the check",
    ),
    squawk(
        Squawk::AddingRequiredField,
        "adding-required-field",
        Error,
        "a NOT NULL column without a default fails on a table that has rows, and breaks inserts from running code",
        "add it nullable or with a constant default, backfill, then enforce NOT NULL",
    ),
    squawk(
        Squawk::AddingSerialPrimaryKeyField,
        "adding-serial-primary-key-field",
        Error,
        "adding a primary key builds its index under an exclusive lock",
        "`CREATE UNIQUE INDEX CONCURRENTLY`, then `ADD PRIMARY KEY USING INDEX`",
    ),
    squawk(
        Squawk::DisallowedUniqueConstraint,
        "disallowed-unique-constraint",
        Error,
        "adding a UNIQUE constraint builds its index under an exclusive lock",
        "`CREATE UNIQUE INDEX CONCURRENTLY`, then `ADD CONSTRAINT ... UNIQUE USING INDEX`",
    ),
    squawk(
        Squawk::ChangingColumnType,
        "changing-column-type",
        Error,
        "changing a column's type rewrites the table under an exclusive lock and breaks running code",
        EXPAND_CONTRACT,
    ),
    squawk(
        Squawk::BanAlterDomainWithAddConstraint,
        "ban-alter-domain-with-add-constraint",
        Error,
        "adding a constraint to a domain checks every column of that domain under lock",
        "create a new domain with the constraint and move columns to it, or use a table CHECK ... NOT VALID",
    ),
    // Changes that break code already running against the database.
    squawk(
        Squawk::RenamingColumn,
        "renaming-column",
        Error,
        "renaming a column breaks every running reader and writer of the old name",
        EXPAND_CONTRACT,
    ),
    squawk(
        Squawk::RenamingTable,
        "renaming-table",
        Error,
        "renaming a table breaks every running reader and writer of the old name",
        EXPAND_CONTRACT,
    ),
    squawk(
        Squawk::BanSetSchema,
        "ban-set-schema",
        Error,
        "moving an object to another schema breaks its readers and its owner's migrations",
        EXPAND_CONTRACT,
    ),
    squawk(
        Squawk::BanDropColumn,
        "ban-drop-column",
        Error,
        "dropping a column breaks running code that still reads or writes it",
        REMOVE_LATER,
    ),
    squawk(
        Squawk::BanDropTable,
        "ban-drop-table",
        Error,
        "dropping a table loses its data and breaks running code that uses it",
        REMOVE_LATER,
    ),
    squawk(
        Squawk::BanDropSchema,
        "ban-drop-schema",
        Error,
        "dropping a schema loses everything in it",
        "follow the README's removal of a schema (back up, deploy the drop as a forward migration) \
         and allow it with the reason",
    ),
    squawk(
        Squawk::BanDropDatabase,
        "ban-drop-database",
        Error,
        "a migration must never drop a database",
        "remove the statement; databases are an operator's business",
    ),
    squawk(
        Squawk::BanDropView,
        "ban-drop-view",
        Error,
        "dropping a view breaks running code that queries it",
        REMOVE_LATER,
    ),
    squawk(
        Squawk::BanDropFunction,
        "ban-drop-function",
        Error,
        "dropping a function breaks running code and defaults or triggers that call it",
        REMOVE_LATER,
    ),
    squawk(
        Squawk::BanDropType,
        "ban-drop-type",
        Error,
        "dropping a type breaks columns and code that use it",
        REMOVE_LATER,
    ),
    squawk(
        Squawk::BanDropSequence,
        "ban-drop-sequence",
        Error,
        "dropping a sequence breaks defaults and code that draw from it",
        REMOVE_LATER,
    ),
    squawk(
        Squawk::BanDropDomain,
        "ban-drop-domain",
        Error,
        "dropping a domain breaks the columns that use it",
        REMOVE_LATER,
    ),
    squawk(
        Squawk::BanDropExtension,
        "ban-drop-extension",
        Error,
        "dropping an extension drops everything that depends on it, in every schema",
        REMOVE_LATER,
    ),
    squawk(
        Squawk::BanTruncateCascade,
        "ban-truncate-cascade",
        Error,
        "TRUNCATE ... CASCADE empties every table that references this one, in any schema",
        "never truncate in a migration; a backfill deletes exactly the rows it means to",
    ),
    squawk(
        Squawk::BanDuplicateColumnAssignments,
        "ban-duplicate-column-assignments",
        Error,
        "a column is assigned twice in one statement",
        "assign each column once",
    ),
    squawk(
        Squawk::IdentifierTooLong,
        "identifier-too-long",
        Error,
        "PostgreSQL truncates names longer than 63 bytes, so the object gets another name than the code uses",
        "shorten the name to 63 bytes or fewer",
    ),
    // The runner owns the transaction.
    squawk(
        Squawk::TransactionNesting,
        "transaction-nesting",
        Error,
        "the runner opens and commits each migration's transaction itself (with its history row)",
        "remove BEGIN/COMMIT/ROLLBACK; return `Some(false)` from `use_transaction()` to run outside one",
    ),
    squawk(
        Squawk::BanUncommittedTransaction,
        "ban-uncommitted-transaction",
        Error,
        "the migration opens a transaction it never ends; the runner manages transactions",
        "remove BEGIN; the runner wraps the migration in its transaction",
    ),
    // Weaker guarantees running code may rely on.
    squawk(
        Squawk::BanDropNotNull,
        "ban-drop-not-null",
        Warning,
        "dropping NOT NULL lets nulls in that running code does not expect",
        "make sure every reader handles null first",
    ),
    squawk(
        Squawk::BanDropDefault,
        "ban-drop-default",
        Warning,
        "dropping a default breaks inserts from running code that relies on it",
        "ship code that always sets the column first",
    ),
    squawk(
        Squawk::BanDropConstraint,
        "ban-drop-constraint",
        Warning,
        "dropping a constraint removes a guarantee running code may rely on",
        "make sure nothing relies on it first",
    ),
    squawk(
        Squawk::BanDropGeneratedExpression,
        "ban-drop-generated-expression",
        Warning,
        "the column stops being computed; running code that relies on it gets stale values",
        "ship code that writes the column first",
    ),
    squawk(
        Squawk::BanAlterIdentity,
        "ban-alter-identity",
        Warning,
        "changing a column's identity may break inserts from running code",
        "make sure every writer agrees with the new identity first",
    ),
    squawk(
        Squawk::RenamingObject,
        "renaming-object",
        Warning,
        "renaming a constraint, role or other object breaks code and migrations that name it",
        "keep the old name, or rename only what nothing else names",
    ),
    squawk(
        Squawk::BanCreateDomainWithConstraint,
        "ban-create-domain-with-constraint",
        Warning,
        "a domain's constraint is hard to change later without locking every table using it",
        "use a table CHECK constraint instead",
    ),
    squawk(
        Squawk::RequireEnumValueOrdering,
        "require-enum-value-ordering",
        Warning,
        "a new enum value without BEFORE/AFTER lands at the end, changing the type's sort order",
        "say where it goes with BEFORE or AFTER (and prefer text with a CHECK, as the architecture says)",
    ),
    squawk(
        Squawk::PreferRobustStmts,
        "prefer-robust-stmts",
        Warning,
        "outside a transaction, a statement that fails halfway leaves work a retry trips over",
        "use IF NOT EXISTS / IF EXISTS so the migration can be run again",
    ),
    // Type choices.
    squawk(
        Squawk::PreferBigintOverInt,
        "prefer-bigint-over-int",
        Warning,
        "a 32-bit integer can run out",
        "use bigint",
    ),
    squawk(
        Squawk::PreferBigintOverSmallint,
        "prefer-bigint-over-smallint",
        Warning,
        "a 16-bit integer can run out",
        "use bigint",
    ),
    squawk(
        Squawk::PreferIdentity,
        "prefer-identity",
        Warning,
        "serial columns have sequence ownership and permission quirks",
        "use `GENERATED ... AS IDENTITY` (or a uuid id, as the conventions say)",
    ),
    squawk(
        Squawk::PreferTextField,
        "prefer-text-field",
        Warning,
        "changing a varchar's length later takes an exclusive lock",
        "use text with a CHECK on its length",
    ),
    squawk(
        Squawk::PreferTimestampTz,
        "prefer-timestamp-tz",
        Warning,
        "timestamp without time zone depends on the session's time zone",
        "use timestamptz",
    ),
    squawk(
        Squawk::BanCharField,
        "ban-char-field",
        Warning,
        "char(n) pads with spaces and is never what was meant",
        "use text (with a CHECK on its length if needed)",
    ),
];

/// squawk rules deliberately not run, each with the reason.
pub const NOT_RUN: &[(&str, &str)] = &[
    (
        "require-lock-timeout",
        "the runner sets `lock_timeout` (`--ddl-lock-timeout`, 5 s by default) before every migration \
         and retries, so no statement waits for a lock longer than that",
    ),
    (
        "require-statement-timeout",
        "the runner's `lock_timeout` is what keeps readers from queueing behind a migration; a statement \
         timeout would only abort DDL that already holds its locks, halfway through",
    ),
    (
        "require-timeout-settings",
        "an alias of the two timeout rules above",
    ),
    (
        "ban-concurrent-index-creation-in-transaction",
        "replaced by `refused-in-transaction`, which knows whether the runner wraps the migration in a \
         transaction (squawk guesses from the statement count) and also covers DROP INDEX, REINDEX and \
         DETACH PARTITION CONCURRENTLY, VACUUM and the other statements PostgreSQL refuses there",
    ),
    (
        "require-table-schema",
        "replaced by `unqualified-table`, which also checks every table a statement reads or references",
    ),
    (
        "prefer-repack",
        "it only speaks for PostgreSQL 19 and later (it suggests REPACK), and the runner supports 14 and later",
    ),
    (
        "unused-ignore",
        "squawk's own ignore comments are not how this product exempts a rule: allow-comments with a reason are",
    ),
];

/// Every rule the linter reports, with its id, severity, reason and fix.
pub fn rules() -> &'static [RuleInfo] {
    RULES
}

pub fn find(id: &str) -> Option<&'static RuleInfo> {
    RULES.iter().find(|rule| rule.id == id)
}

/// The squawk rule a violation came from, by squawk's own variant.
pub(crate) fn for_squawk(rule: Squawk) -> Option<&'static RuleInfo> {
    RULES
        .iter()
        .find(|info| info.origin == Origin::Squawk(rule))
}

/// A rule's severity on `target`: the only difference is that Citus cannot
/// create a foreign key between two schemas' (distributed) tables.
pub fn severity(rule: &RuleInfo, target: Target) -> Severity {
    if rule.id == CROSS_SCHEMA_FOREIGN_KEY && target == Target::Citus {
        Severity::Error
    } else {
        rule.severity
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn squawk_ids_are_squawks_own() {
        for rule in RULES {
            if let Origin::Squawk(squawk) = rule.origin {
                assert_eq!(squawk.to_string(), rule.id);
            }
        }
        let defaults: Vec<String> = squawk_linter::Linter::with_default_rules()
            .rules
            .iter()
            .map(ToString::to_string)
            .collect();
        for (id, _) in NOT_RUN {
            assert!(
                id.parse::<Squawk>().is_ok() || defaults.iter().any(|d| d == id),
                "{id}"
            );
            assert!(find(id).is_none(), "{id} is both run and not run");
        }
    }

    #[test]
    fn ids_are_unique_and_every_rule_says_why_and_what_instead() {
        let mut ids: Vec<&str> = RULES.iter().map(|r| r.id).collect();
        ids.sort_unstable();
        ids.dedup();
        assert_eq!(ids.len(), RULES.len());
        for rule in RULES {
            assert!(
                !rule.reason.is_empty() && !rule.reason.contains('\n'),
                "{}",
                rule.id
            );
            assert!(
                !rule.fix.is_empty() && !rule.fix.contains('\n'),
                "{}",
                rule.id
            );
        }
    }
}
