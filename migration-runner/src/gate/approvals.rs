//! Every touched schema's owners approve. GitHub requests every team a
//! CODEOWNERS line names but merges on any one approval, so a migration
//! that changes talent's schema from vacancy's crate could pass with only
//! vacancy's review. This step reads the pull request's reviews and the
//! owning teams' members from the code host's API, and names each schema
//! (from [`Review`]s: the schemas a migration's SQL changes, declares, and
//! its own) whose owners have not approved.
//!
//! The host is a trait ([`CodeHost`]); [`GitHub`] speaks its REST API with
//! a token that may read the pull request and the organisation's teams (the
//! workflow's own `GITHUB_TOKEN` cannot read team membership: the step
//! needs a token with `read:org`). The token is sent, never printed.

use std::collections::{BTreeMap, BTreeSet};

use serde::Serialize;

use crate::exit::Exit;
use crate::gate::check::Review;
use crate::gate::owners::Owners;

/// A schema whose owners must approve, and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Needed {
    pub schema: String,
    /// Its owning teams (`@org/team`) or people (`@login`).
    pub owners: Vec<String>,
    /// The pull request's migrations that change or declare it, or live in its crate.
    pub migrations: Vec<String>,
}

/// A needed schema with the approvals its owners gave.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Verdict {
    #[serde(flatten)]
    pub needed: Needed,
    /// The approving reviewers who are among its owners.
    pub approved_by: Vec<String>,
}

impl Verdict {
    pub fn approved(&self) -> bool {
        !self.approved_by.is_empty()
    }

    /// One line for the log.
    pub fn line(&self) -> String {
        let owners = self.needed.owners.join(" ");
        let migrations = self.needed.migrations.join(", ");
        if self.approved() {
            format!(
                "schema `{}` ({owners}): approved by {} ({migrations})",
                self.needed.schema,
                self.approved_by.join(", ")
            )
        } else {
            format!(
                "schema `{}` ({owners}): no approval from its owners yet; {migrations} change it: \
                 ask a member of {owners} to approve the pull request",
                self.needed.schema
            )
        }
    }
}

/// The schemas the `reviews` touch, each with its owners and migrations.
pub fn needed(reviews: &[Review], owners: &Owners) -> Vec<Needed> {
    let mut by_schema: BTreeMap<&str, BTreeSet<&str>> = BTreeMap::new();
    for review in reviews {
        for schema in std::iter::once(&review.schema)
            .chain(&review.changes)
            .chain(&review.declares)
        {
            by_schema
                .entry(schema.as_str())
                .or_default()
                .insert(review.migration.as_str());
        }
    }
    by_schema
        .into_iter()
        .map(|(schema, migrations)| Needed {
            schema: schema.to_owned(),
            owners: owners
                .teams([schema])
                .into_iter()
                .map(str::to_owned)
                .collect(),
            migrations: migrations.into_iter().map(str::to_owned).collect(),
        })
        .collect()
}

/// What the approvals step asks the code host.
pub trait CodeHost {
    /// The logins whose latest review of the pull request approves it.
    fn approvers(&self) -> Result<BTreeSet<String>, ApprovalsError>;
    /// The logins of a team's members (`team` as `org/slug`).
    fn members(&self, team: &str) -> Result<BTreeSet<String>, ApprovalsError>;
}

/// Each needed schema with the approvals of its owners.
pub fn decide(needed: Vec<Needed>, host: &dyn CodeHost) -> Result<Vec<Verdict>, ApprovalsError> {
    let approvers = host.approvers()?;
    let mut members: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    let mut verdicts = Vec::new();
    for needed in needed {
        let mut approved_by = BTreeSet::new();
        for owner in &needed.owners {
            let Some(owner) = owner.strip_prefix('@') else {
                return Err(ApprovalsError::Owner {
                    owner: owner.clone(),
                });
            };
            let people = match owner.split_once('/') {
                Some(_) => match members.get(owner) {
                    Some(people) => people.clone(),
                    None => {
                        let people = host.members(owner)?;
                        members.insert(owner.to_owned(), people.clone());
                        people
                    }
                },
                None => BTreeSet::from([owner.to_owned()]),
            };
            approved_by.extend(approvers.intersection(&people).cloned());
        }
        verdicts.push(Verdict {
            needed,
            approved_by: approved_by.into_iter().collect(),
        });
    }
    Ok(verdicts)
}

/// The latest decisive review of each reviewer, in the order the host
/// lists them (oldest first): approved unless a later review requested
/// changes or dismissed it. Comments decide nothing.
pub fn latest_approvals<'a>(
    reviews: impl IntoIterator<Item = (&'a str, &'a str)>,
) -> BTreeSet<String> {
    let mut latest: BTreeMap<&str, &str> = BTreeMap::new();
    for (login, state) in reviews {
        if matches!(state, "APPROVED" | "CHANGES_REQUESTED" | "DISMISSED") {
            latest.insert(login, state);
        }
    }
    latest
        .into_iter()
        .filter(|(_, state)| *state == "APPROVED")
        .map(|(login, _)| login.to_owned())
        .collect()
}

/// The pull request on GitHub (or GitHub Enterprise, through its API URL).
#[derive(Debug)]
pub struct GitHub {
    agent: ureq::Agent,
    /// `https://api.github.com`, or `GITHUB_API_URL`.
    pub api: String,
    /// `owner/name`.
    pub repository: String,
    pub number: u64,
    token: String,
}

impl GitHub {
    pub fn new(
        api: &str,
        repository: &str,
        number: u64,
        token: String,
    ) -> Result<Self, ApprovalsError> {
        let tls = native_tls::TlsConnector::new().map_err(|err| ApprovalsError::Unreachable {
            url: api.to_owned(),
            problem: format!("cannot set up TLS: {err}"),
        })?;
        let agent = ureq::AgentBuilder::new()
            .tls_connector(std::sync::Arc::new(tls))
            .timeout(std::time::Duration::from_secs(30))
            .build();
        Ok(Self {
            agent,
            api: api.trim_end_matches('/').to_owned(),
            repository: repository.to_owned(),
            number,
            token,
        })
    }

    /// Every page of a listing, following the `Link: <…>; rel="next"` headers.
    fn pages(&self, path: &str) -> Result<Vec<serde_json::Value>, ApprovalsError> {
        let mut url = format!("{}{path}?per_page=100", self.api);
        let mut items = Vec::new();
        loop {
            let response = self
                .agent
                .get(&url)
                .set("Accept", "application/vnd.github+json")
                .set("X-GitHub-Api-Version", "2022-11-28")
                .set("User-Agent", "migration-runner")
                .set("Authorization", &format!("Bearer {}", self.token))
                .call()
                .map_err(|err| match err {
                    ureq::Error::Status(status, response) => ApprovalsError::Refused {
                        url: url.clone(),
                        status,
                        message: response
                            .into_json::<serde_json::Value>()
                            .ok()
                            .and_then(|body| body.get("message")?.as_str().map(str::to_owned))
                            .unwrap_or_default(),
                    },
                    ureq::Error::Transport(transport) => ApprovalsError::Unreachable {
                        url: url.clone(),
                        problem: transport.to_string(),
                    },
                })?;
            let next = response.header("Link").and_then(next_page);
            let page: serde_json::Value =
                response
                    .into_json()
                    .map_err(|err| ApprovalsError::Malformed {
                        url: url.clone(),
                        problem: err.to_string(),
                    })?;
            let serde_json::Value::Array(page) = page else {
                return Err(ApprovalsError::Malformed {
                    url,
                    problem: "expected a list".to_owned(),
                });
            };
            items.extend(page);
            match next {
                Some(next) => url = next,
                None => return Ok(items),
            }
        }
    }
}

/// The `rel="next"` address of a `Link` header.
fn next_page(link: &str) -> Option<String> {
    link.split(',').find_map(|part| {
        let (address, params) = part.split_once(';')?;
        params
            .split(';')
            .any(|param| param.trim() == "rel=\"next\"")
            .then(|| {
                address
                    .trim()
                    .trim_start_matches('<')
                    .trim_end_matches('>')
                    .to_owned()
            })
    })
}

fn login_of(item: &serde_json::Value) -> Option<&str> {
    item.get("user").unwrap_or(item).get("login")?.as_str()
}

impl CodeHost for GitHub {
    fn approvers(&self) -> Result<BTreeSet<String>, ApprovalsError> {
        let path = format!("/repos/{}/pulls/{}/reviews", self.repository, self.number);
        let reviews = self.pages(&path)?;
        Ok(latest_approvals(reviews.iter().filter_map(|review| {
            Some((login_of(review)?, review.get("state")?.as_str()?))
        })))
    }

    fn members(&self, team: &str) -> Result<BTreeSet<String>, ApprovalsError> {
        let (org, slug) = team.split_once('/').unwrap_or((team, ""));
        let members = self.pages(&format!("/orgs/{org}/teams/{slug}/members"))?;
        Ok(members
            .iter()
            .filter_map(|member| login_of(member).map(str::to_owned))
            .collect())
    }
}

/// Why the approvals could not be read.
#[derive(Debug, thiserror::Error)]
pub enum ApprovalsError {
    #[error(
        "no pull request to read approvals of: {missing} (the workflow sets GITHUB_REPOSITORY and \
         GITHUB_EVENT_PATH on `pull_request` events; elsewhere pass --repo and --pr)"
    )]
    NoPullRequest { missing: String },
    #[error(
        "no token in `{variable}`: the step needs a token that may read the pull request's reviews \
         and the organisation's teams (`read:org`; the workflow's own GITHUB_TOKEN cannot read teams), \
         for example `env: {variable}: ${{{{ secrets.OWNERS_TOKEN }}}}`"
    )]
    NoToken { variable: String },
    #[error(
        "owner `{owner}` is not `@org/team` or `@login`: write it so in its crate's Cargo.toml"
    )]
    Owner { owner: String },
    #[error("{url} answered {status}{}: {advice}", if message.is_empty() { String::new() } else { format!(" ({message})") }, advice = advice(*status))]
    Refused {
        url: String,
        status: u16,
        message: String,
    },
    #[error("cannot reach {url}: {problem}; nothing was decided, retry")]
    Unreachable { url: String, problem: String },
    #[error("{url} answered something other than the API's JSON: {problem}")]
    Malformed { url: String, problem: String },
}

fn advice(status: u16) -> &'static str {
    match status {
        401 => "the token is not accepted: check the secret the step's token comes from",
        403 | 404 => {
            "the token may not read this (a team's members need `read:org`; the workflow's own \
             GITHUB_TOKEN cannot read teams), or the repository, pull request or team does not exist"
        }
        _ => "the code host refused the request",
    }
}

impl ApprovalsError {
    pub fn exit(&self) -> Exit {
        match self {
            ApprovalsError::NoPullRequest { .. }
            | ApprovalsError::NoToken { .. }
            | ApprovalsError::Owner { .. } => Exit::Usage,
            ApprovalsError::Unreachable { .. } => Exit::Unavailable,
            ApprovalsError::Refused { .. } | ApprovalsError::Malformed { .. } => Exit::Failed,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_latest_decisive_review_of_each_reviewer_counts() {
        let approvals = latest_approvals([
            ("ana", "APPROVED"),
            ("bo", "APPROVED"),
            ("bo", "CHANGES_REQUESTED"),
            ("cy", "CHANGES_REQUESTED"),
            ("cy", "APPROVED"),
            ("ana", "COMMENTED"),
            ("di", "APPROVED"),
            ("di", "DISMISSED"),
        ]);
        assert_eq!(
            approvals,
            BTreeSet::from(["ana".to_owned(), "cy".to_owned()])
        );
    }

    #[test]
    fn the_next_page_is_read_from_the_link_header() {
        let link = "<https://api.github.com/repositories/1/pulls/7/reviews?per_page=100&page=2>; rel=\"next\", \
                    <https://api.github.com/repositories/1/pulls/7/reviews?per_page=100&page=3>; rel=\"last\"";
        assert_eq!(
            next_page(link).as_deref(),
            Some("https://api.github.com/repositories/1/pulls/7/reviews?per_page=100&page=2")
        );
        assert_eq!(next_page("<https://x/?page=1>; rel=\"prev\""), None);
    }
}
