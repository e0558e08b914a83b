//! The local cluster's life cycle, in a directory of its own: init, start,
//! connect, stop, restart on the recorded port; and, as root, the server runs
//! as the unprivileged `postgres` user.

use std::os::unix::fs::MetadataExt;

use migration_dev::local_pg::{APP_DATABASE, LocalCluster};
use migration_runner::{UpOptions, connect};
use sea_orm::ConnectionTrait;

fn server_uid(cluster: &LocalCluster) -> u32 {
    let pid_file = std::fs::read_to_string(cluster.root().join("data/postmaster.pid")).unwrap();
    let pid = pid_file.lines().next().unwrap().trim();
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    let uid_line = status.lines().find(|l| l.starts_with("Uid:")).unwrap();
    uid_line.split_whitespace().nth(1).unwrap().parse().unwrap()
}

/// One text value from the cluster's application database.
async fn app_scalar(cluster: &LocalCluster, sql: &str) -> String {
    let conn = connect(&cluster.url(APP_DATABASE).unwrap(), "lifecycle-test")
        .await
        .unwrap();
    let row = conn
        .connection()
        .query_one_raw(sea_orm::Statement::from_string(
            sea_orm::DbBackend::Postgres,
            sql.to_owned(),
        ))
        .await
        .unwrap()
        .unwrap();
    let value = row.try_get_by_index::<String>(0).unwrap();
    // Closed before returning, not left to a background task: `dropdb --force`
    // would otherwise have a live session to terminate.
    conn.close().await.unwrap();
    value
}

#[tokio::test]
async fn a_cluster_initialises_starts_stops_and_restarts_on_demand() {
    let root = migration_dev::local_pg::target_dir()
        .join(format!("postgres-lifecycle-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&root);
    let cluster = LocalCluster::at(root.clone()).unwrap();
    assert!(!cluster.status().initialised);
    assert!(!cluster.is_running());

    cluster.ensure_running().unwrap();
    let status = cluster.status();
    assert!(status.initialised && status.running, "{status:?}");
    let port = status.port.unwrap();
    let url = cluster.url(APP_DATABASE).unwrap();
    assert!(
        url.starts_with("postgres://postgres:") && url.ends_with(&format!("@127.0.0.1:{port}/app")),
        "{url}"
    );

    // The application database exists and migrates.
    let conn = connect(&url, "lifecycle-test").await.unwrap();
    let catalog = migration_runner::Catalog::workspace(&schema_registry::workspace()).unwrap();
    let runner = migration_runner::Runner::new(conn, catalog, Default::default())
        .await
        .unwrap();
    assert!(
        !runner
            .up(&UpOptions::default())
            .await
            .unwrap()
            .applied
            .is_empty()
    );
    drop(runner);

    // As root the server must not run as root: it runs as `postgres`, which owns the data.
    let uid = server_uid(&cluster);
    let data_owner = std::fs::metadata(cluster.root().join("data"))
        .unwrap()
        .uid();
    if nix::unistd::Uid::effective().is_root() {
        let postgres = nix::unistd::User::from_name("postgres")
            .unwrap()
            .unwrap()
            .uid
            .as_raw();
        assert_eq!(uid, postgres);
        assert_eq!(data_owner, postgres);
    } else {
        assert_eq!(uid, nix::unistd::Uid::effective().as_raw());
    }

    assert!(cluster.stop().unwrap());
    assert!(!cluster.is_running());
    assert!(
        !cluster.stop().unwrap(),
        "stopping a stopped cluster is a no-op"
    );

    // Restart: same data, same port, same password.
    cluster.ensure_running().unwrap();
    assert_eq!(cluster.port(), Some(port));
    let applied = app_scalar(
        &cluster,
        "SELECT count(*)::text FROM public.seaql_migrations",
    )
    .await;
    assert_ne!(applied, "0");

    // `db reset`: drop and recreate the application database.
    cluster.drop_database(APP_DATABASE).unwrap();
    cluster.create_database(APP_DATABASE).unwrap();
    let history = app_scalar(
        &cluster,
        "SELECT coalesce(to_regclass('public.seaql_migrations')::text, 'none')",
    )
    .await;
    assert_eq!(history, "none", "the reset database is empty");

    cluster.stop().unwrap();
    std::fs::remove_dir_all(&root).unwrap();
    std::fs::remove_file(root.with_extension("lock")).unwrap();
}
