//! The approvals step (`migration-runner owners --require-approvals`), the
//! release binary against GitHub's API as a local HTTP server serving
//! responses in the API's shape (`github/*.json`: reviews over two pages,
//! the teams' members). The branch adds the workspace's cross-schema
//! migration (vacancy's, touching talent): it fails while only vacancy's
//! owners approved and passes once a talent member did; the token is sent
//! and never printed.

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Write};
use std::net::TcpListener;
use std::sync::{Arc, Mutex};

use migration_runner::source::sum::{self, SumFile};

use crate::check::{Repo, workspace_checkout};
use crate::support::*;

const CROSS_SCHEMA: &str = "m20251101_090000_vacancy_link_applications_to_talent_profiles";
const TOKEN: &str = "ghs_approvalsTestToken0123456789";

fn recorded(name: &str) -> String {
    std::fs::read_to_string(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tests/it/github")
            .join(name),
    )
    .unwrap()
}

/// What the fake API serves: path (with query) to status, body and `Link`.
type Routes = HashMap<String, (u16, String, Option<String>)>;

/// A local HTTP server answering from `routes`; it records each request's
/// path and `Authorization` header.
struct Api {
    address: String,
    routes: Arc<Mutex<Routes>>,
    seen: Arc<Mutex<Vec<(String, String)>>>,
}

impl Api {
    fn start() -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let address = format!("http://{}", listener.local_addr().unwrap());
        let routes: Arc<Mutex<Routes>> = Arc::default();
        let seen: Arc<Mutex<Vec<(String, String)>>> = Arc::default();
        let (served, log) = (routes.clone(), seen.clone());
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                let Ok(mut stream) = stream else { continue };
                let mut reader = BufReader::new(stream.try_clone().unwrap());
                let mut request_line = String::new();
                reader.read_line(&mut request_line).unwrap();
                let path = request_line
                    .split(' ')
                    .nth(1)
                    .unwrap_or_default()
                    .to_owned();
                let mut authorization = String::new();
                loop {
                    let mut header = String::new();
                    reader.read_line(&mut header).unwrap();
                    if header.trim().is_empty() {
                        break;
                    }
                    if let Some(value) = header.strip_prefix("Authorization: ") {
                        authorization = value.trim().to_owned();
                    }
                }
                log.lock().unwrap().push((path.clone(), authorization));
                let (status, body, link) = served.lock().unwrap().get(&path).cloned().unwrap_or((
                    404,
                    recorded("not-found.json"),
                    None,
                ));
                let link = link.map(|l| format!("Link: {l}\r\n")).unwrap_or_default();
                let _ = write!(
                    stream,
                    "HTTP/1.1 {status} X\r\nContent-Type: application/json; charset=utf-8\r\nContent-Length: {}\r\n{link}Connection: close\r\n\r\n{body}",
                    body.len()
                );
            }
        });
        Self {
            address,
            routes,
            seen,
        }
    }

    fn serve(&self, path: &str, body: String, link: Option<String>) {
        self.routes
            .lock()
            .unwrap()
            .insert(path.to_owned(), (200, body, link));
    }
}

/// A checkout whose `main` lacks the cross-schema migration and whose
/// `feature` (checked out) has the workspace as it is.
fn branch_adding_the_cross_schema_migration() -> Repo {
    let repo = workspace_checkout("approvals");
    assert!(repo.git(&["branch", "feature"]).status.success());
    let mut base = SumFile::parse(schema_registry::SUM_FILE).unwrap();
    base.entries.retain(|entry| entry.name != CROSS_SCHEMA);
    std::fs::write(repo.path().join(sum::PATH), base.render()).unwrap();
    assert!(
        repo.git(&["commit", "-q", "-am", "main without it"])
            .status
            .success()
    );
    assert!(repo.git(&["checkout", "-q", "feature"]).status.success());
    repo
}

/// The approvals step for pull request 7 of `acme/shop` on `api`, with
/// `token` (and the job summary in `summary`, when given).
fn approvals(
    repo: &Repo,
    api: &Api,
    token: &str,
    summary: Option<&std::path::Path>,
) -> std::process::Output {
    let summary = summary.map(|path| path.display().to_string());
    let mut args = vec![
        "owners",
        "--base",
        "main",
        "--require-approvals",
        "--repo",
        "acme/shop",
        "--pr",
        "7",
    ];
    if let Some(summary) = &summary {
        args.extend(["--summary", summary]);
    }
    runner_binary_in(
        repo.path(),
        None,
        &args,
        &[
            ("GITHUB_API_URL", api.address.as_str()),
            ("GITHUB_TOKEN", token),
            ("GITHUB_EVENT_PATH", ""),
            ("GITHUB_REPOSITORY", ""),
        ],
    )
}

#[test]
fn fails_until_every_touched_schemas_owners_approved() {
    let repo = branch_adding_the_cross_schema_migration();
    let api = Api::start();
    let reviews = "/repos/acme/shop/pulls/7/reviews";
    let page_2 = format!("{reviews}?per_page=100&page=2");
    api.serve(
        &format!("{reviews}?per_page=100"),
        recorded("reviews-page-1.json"),
        Some(format!(
            "<{}{page_2}>; rel=\"next\", <{}{page_2}>; rel=\"last\"",
            api.address, api.address
        )),
    );
    api.serve(
        &page_2,
        recorded("reviews-page-2-talent-pending.json"),
        None,
    );
    api.serve(
        "/orgs/acme/teams/vacancy/members?per_page=100",
        recorded("team-vacancy-members.json"),
        None,
    );
    api.serve(
        "/orgs/acme/teams/talent/members?per_page=100",
        recorded("team-talent-members.json"),
        None,
    );
    let summary =
        std::env::temp_dir().join(format!("summary-{}.md", uuid::Uuid::new_v4().simple()));

    // Vacancy's owner approved; talent's requested changes, then only commented.
    let out = approvals(&repo, &api, TOKEN, Some(&summary));
    let (stdout, stderr) = (
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    );
    assert_eq!(out.status.code(), Some(2), "{stdout}\n{stderr}");
    assert!(
        stdout.contains(&format!(
            "schema `talent` (@acme/talent): no approval from its owners yet; {CROSS_SCHEMA} change it: \
             ask a member of @acme/talent to approve the pull request"
        )),
        "{stdout}"
    );
    assert!(
        stdout.contains(&format!(
            "schema `vacancy` (@acme/vacancy): approved by vera-vacancy ({CROSS_SCHEMA})"
        )),
        "{stdout}"
    );
    assert!(
        stderr.contains("1 schema(s) without their owners' approval: `talent` (@acme/talent)"),
        "{stderr}"
    );
    let table = std::fs::read_to_string(&summary).unwrap();
    assert!(table.contains("| `talent` | @acme/talent |"), "{table}");
    assert!(table.contains("**not yet**"), "{table}");

    // Once a talent member approved (on the second page), it passes.
    api.serve(
        &page_2,
        recorded("reviews-page-2-talent-approved.json"),
        None,
    );
    let out = approvals(&repo, &api, TOKEN, Some(&summary));
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        stdout.contains("schema `talent` (@acme/talent): approved by tom-talent"),
        "{stdout}"
    );
    assert!(
        stdout.contains("every touched schema's owners approved (2 schema(s))"),
        "{stdout}"
    );

    // The token went to the API on every request and was never printed.
    let seen = api.seen.lock().unwrap().clone();
    assert!(seen.iter().any(|(path, _)| path == &page_2), "{seen:?}");
    assert!(
        seen.iter()
            .all(|(_, auth)| auth == &format!("Bearer {TOKEN}")),
        "{seen:?}"
    );
    for text in [stdout, table] {
        assert!(!text.contains(TOKEN));
    }
    let _ = std::fs::remove_file(&summary);
}

/// Without a token, or when the API refuses to list a team, it says what
/// to give the step (exit 64, exit 3), printing no secret.
#[test]
fn a_missing_token_or_an_unreadable_team_says_what_the_step_needs() {
    let repo = branch_adding_the_cross_schema_migration();
    let api = Api::start();
    api.serve(
        "/repos/acme/shop/pulls/7/reviews?per_page=100",
        recorded("reviews-page-1.json"),
        None,
    );
    let out = approvals(&repo, &api, "", None);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(64), "{stderr}");
    assert!(stderr.contains("no token in `GITHUB_TOKEN`"), "{stderr}");
    assert!(stderr.contains("read:org"), "{stderr}");

    // The teams are not served: the API's 404.
    let out = approvals(&repo, &api, TOKEN, None);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(3), "{stderr}");
    assert!(
        stderr.contains("/orgs/acme/") && stderr.contains("answered 404 (Not Found)"),
        "{stderr}"
    );
    assert!(stderr.contains("need `read:org`"), "{stderr}");
    assert!(!stderr.contains(TOKEN));

    // Without --require-approvals it lists who must review, offline.
    let out = runner_binary_in(repo.path(), None, &["owners", "--base", "main"], &[]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{stdout}");
    assert!(
        stdout.contains(&format!(
            "schema `talent` needs @acme/talent: {CROSS_SCHEMA}"
        )),
        "{stdout}"
    );
}
