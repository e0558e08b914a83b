//! `owners --base <ref> [--require-approvals]`: the schemas the branch's
//! migrations touch and the owners whose review each needs; with
//! `--require-approvals`, whether each schema's owners approved the pull
//! request (the gate job's step), exit 2 naming every one that did not.

use std::path::PathBuf;

use clap::Args;

use crate::cli::error::{CommandError, Result};
use crate::exit::Exit;
use crate::gate::approvals::{self, ApprovalsError, GitHub, Verdict};
use crate::gate::owners::Owners;
use crate::say;
use crate::source::catalog::Catalog;
use schema_core::schema_crate::Workspace;

#[derive(Debug, Clone, Args)]
pub struct OwnersArgs {
    /// The base branch (a git ref, e.g. `origin/main`): the migrations added over it need review.
    #[arg(long, value_name = "REF")]
    pub base: String,
    /// Exit 2 unless every touched schema's owners approved the pull request (reads the
    /// reviews and the teams' members from the GitHub API).
    #[arg(long)]
    pub require_approvals: bool,
    /// The repository, `owner/name` [default: GITHUB_REPOSITORY].
    #[arg(long, value_name = "OWNER/NAME")]
    pub repo: Option<String>,
    /// The pull request's number [default: the event's, from GITHUB_EVENT_PATH].
    #[arg(long, value_name = "N")]
    pub pr: Option<u64>,
    /// The API's address [default: GITHUB_API_URL, else https://api.github.com].
    #[arg(long, value_name = "URL")]
    pub api_url: Option<String>,
    /// The environment variable holding the token (it needs `read:org` to read teams).
    #[arg(long, value_name = "NAME", default_value = "GITHUB_TOKEN")]
    pub token_env: String,
    /// Also append the result as a Markdown table to FILE (`$GITHUB_STEP_SUMMARY`).
    #[arg(long, value_name = "FILE")]
    pub summary: Option<PathBuf>,
    /// Print the result as JSON.
    #[arg(long)]
    pub json: bool,
}

/// The pull request from the flags, or from the workflow's environment.
fn pull_request(args: &OwnersArgs) -> Result<GitHub, ApprovalsError> {
    let repository = args.repo.clone().or_else(|| {
        std::env::var("GITHUB_REPOSITORY")
            .ok()
            .filter(|r| !r.is_empty())
    });
    let number = args.pr.or_else(|| {
        let event = std::fs::read_to_string(std::env::var_os("GITHUB_EVENT_PATH")?).ok()?;
        let event: serde_json::Value = serde_json::from_str(&event).ok()?;
        event
            .pointer("/pull_request/number")
            .or_else(|| event.get("number"))?
            .as_u64()
    });
    let (repository, number) = match (repository, number) {
        (Some(repository), Some(number)) => (repository, number),
        (repository, _) => {
            return Err(ApprovalsError::NoPullRequest {
                missing: if repository.is_none() {
                    "no --repo and no GITHUB_REPOSITORY".to_owned()
                } else {
                    "no --pr and no pull request number in GITHUB_EVENT_PATH".to_owned()
                },
            });
        }
    };
    let token = std::env::var(&args.token_env)
        .ok()
        .filter(|token| !token.trim().is_empty())
        .ok_or_else(|| ApprovalsError::NoToken {
            variable: args.token_env.clone(),
        })?;
    let api = args
        .api_url
        .clone()
        .or_else(|| {
            std::env::var("GITHUB_API_URL")
                .ok()
                .filter(|a| !a.is_empty())
        })
        .unwrap_or_else(|| "https://api.github.com".to_owned());
    GitHub::new(&api, &repository, number, token)
}

/// `owners`: needs no database.
pub async fn owners(args: &OwnersArgs, registry: &Workspace) -> Result<Exit> {
    let workspace = crate::cli::workspace_around_cwd()?;
    let catalog = Catalog::workspace(registry)?;
    let added = crate::gate::check::added_names(&workspace, &catalog, &args.base).await?;
    let owners =
        Owners::read(&workspace, &catalog).map_err(crate::gate::check::CheckError::from)?;
    let reviews = crate::gate::check::reviews(&workspace, &catalog, &owners, &added).await?;
    let needed = approvals::needed(&reviews, &owners);
    if !args.require_approvals {
        if let Some(path) = &args.summary {
            let listed: Vec<Verdict> = needed
                .iter()
                .map(|needed| Verdict {
                    needed: needed.clone(),
                    approved_by: Vec::new(),
                })
                .collect();
            append_summary(path, &listed, None)?;
        }
        if args.json {
            say!(
                "{}",
                serde_json::to_string_pretty(&needed).unwrap_or_default()
            );
        } else {
            for schema in &needed {
                say!(
                    "schema `{}` needs {}: {}",
                    schema.schema,
                    schema.owners.join(" "),
                    schema.migrations.join(", ")
                );
            }
            say!(
                "owners: {} migration(s) over {}, {} schema(s) to review",
                added.len(),
                args.base,
                needed.len()
            );
        }
        return Ok(Exit::Success);
    }
    let host = pull_request(args)?;
    // The API client blocks; this command has nothing else to do meanwhile.
    let verdicts = approvals::decide(needed, &host)?;
    if let Some(path) = &args.summary {
        append_summary(path, &verdicts, Some(host.number))?;
    }
    let missing = verdicts.iter().filter(|v| !v.approved()).count();
    if args.json {
        say!(
            "{}",
            serde_json::to_string_pretty(&verdicts).unwrap_or_default()
        );
    } else {
        for verdict in &verdicts {
            say!("{}", verdict.line());
        }
    }
    if missing == 0 {
        if !args.json {
            say!(
                "owners: every touched schema's owners approved ({} schema(s))",
                verdicts.len()
            );
        }
        Ok(Exit::Success)
    } else {
        eprintln!(
            "error: {missing} schema(s) without their owners' approval: {}",
            verdicts
                .iter()
                .filter(|v| !v.approved())
                .map(|v| format!("`{}` ({})", v.needed.schema, v.needed.owners.join(" ")))
                .collect::<Vec<_>>()
                .join(", ")
        );
        Ok(Exit::Refused)
    }
}

/// The verdicts as a Markdown table, appended to the job summary; without
/// a pull request, who must review (no approvals read).
fn append_summary(path: &std::path::Path, verdicts: &[Verdict], number: Option<u64>) -> Result<()> {
    use std::io::Write as _;
    let mut text = match number {
        Some(number) => format!(
            "### Schema owners' approvals (pull request #{number})\n\n| schema | owners | migrations | approved by |\n|---|---|---|---|\n"
        ),
        None => "### Schemas this change touches and who must review them\n\n| schema | owners | migrations | approved by |\n|---|---|---|---|\n".to_owned(),
    };
    for verdict in verdicts {
        text.push_str(&format!(
            "| `{}` | {} | {} | {} |\n",
            verdict.needed.schema,
            verdict.needed.owners.join(" "),
            verdict
                .needed
                .migrations
                .iter()
                .map(|m| format!("`{m}`"))
                .collect::<Vec<_>>()
                .join("<br>"),
            match (verdict.approved(), number) {
                (true, _) => verdict.approved_by.join(", "),
                (false, Some(_)) => "**not yet**".to_owned(),
                (false, None) => "(not read)".to_owned(),
            }
        ));
    }
    std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .and_then(|mut file| file.write_all(text.as_bytes()))
        .map_err(|source| CommandError::Io {
            path: path.to_owned(),
            source,
        })
}
