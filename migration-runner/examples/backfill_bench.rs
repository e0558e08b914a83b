//! Benchmark: the `academy_webinar_capacity` backfill against one `UPDATE`
//! of the same rows, measured in the same run on two identical databases,
//! and the longest wait of a reader of `academy.webinars` while the backfill
//! runs. The backfill runs with the defaults `backfill run` uses (a 10 ms
//! sleep between batches, batches adapting toward 200 ms, a 10 s statement
//! timeout), through the same driver as the release binary.
//!
//! ```text
//! cargo run --release -p migration-runner --example backfill_bench              # 1,000,000 rows
//! cargo run --release -p migration-runner --example backfill_bench -- 200000
//! ```

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use migration_dev::testing::{TestDatabase, scalar_i64};
use migration_runner::backfill::{Backfills, RunOptions, driver};
use sea_orm::{ConnectionTrait, DatabaseConnection, DbBackend, Statement};

const BACKFILL: &str = "academy_webinar_capacity";
const ADD_CAPACITY: &str = "m20251008_120000_academy_add_webinar_capacity";
const HOST: &str = "00000000-0000-0000-0000-000000000001";
const RANGE: &str = "w.id BETWEEN $1::uuid AND $2::uuid";

async fn load(label: &str, rows: u64) -> (TestDatabase, DatabaseConnection) {
    let db = TestDatabase::create(label);
    db.migrate(Some(ADD_CAPACITY.to_owned())).await;
    let conn = sea_orm::Database::connect(&db.url).await.expect("connect");
    conn.execute_unprepared(&format!(
        "INSERT INTO core.users (id, email, display_name) VALUES ('{HOST}', 'host@example.com', 'Host');
         INSERT INTO core.users (id, email, display_name)
              SELECT md5('u' || g)::uuid, 'u' || g || '@example.com', 'U' FROM generate_series(1, 2000) g;
         INSERT INTO academy.courses (id, slug, title, instructor_id)
              SELECT md5('c' || g)::uuid, 'c' || g, 'Course', '{HOST}' FROM generate_series(1, 200) g;
         INSERT INTO academy.enrollments (id, course_id, user_id, enrolled_at)
              SELECT md5('e' || c || '-' || u)::uuid, md5('c' || c)::uuid, md5('u' || u)::uuid, now()
                FROM generate_series(1, 200) c, generate_series(1, (c % 5) * 20 + 10) u;
         INSERT INTO academy.webinars (id, slug, title, course_id, host_id, starts_at)
              SELECT md5('w' || g)::uuid, 'w' || g, 'Webinar',
                     CASE WHEN g % 4 = 0 THEN NULL ELSE md5('c' || (g % 200 + 1))::uuid END, '{HOST}', now()
                FROM generate_series(1, {rows}) g;"
    ))
    .await
    .expect("load webinars");
    for sql in ["VACUUM ANALYZE academy.webinars", "CHECKPOINT"] {
        conn.execute_unprepared(sql).await.expect(sql);
    }
    (db, conn)
}

/// Point reads and a short range read of the webinars, in a loop; returns the
/// longest single read and how many reads ran.
async fn reader(url: String, stop: Arc<AtomicBool>, rows: u64) -> (Duration, u64) {
    let conn = sea_orm::Database::connect(&url).await.expect("reader");
    let mut longest = Duration::ZERO;
    let mut reads = 0_u64;
    let mut index = 1_u64;
    while !stop.load(Ordering::Relaxed) {
        index = (index * 7919 + 13) % rows + 1;
        let at = Instant::now();
        conn.query_one_raw(Statement::from_string(
            DbBackend::Postgres,
            format!(
                "SELECT count(capacity) FROM (SELECT capacity FROM academy.webinars \
                  WHERE id >= md5('w{index}')::uuid ORDER BY id LIMIT 50) s"
            ),
        ))
        .await
        .expect("read");
        longest = longest.max(at.elapsed());
        reads += 1;
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    (longest, reads)
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let rows: u64 = std::env::args()
        .nth(1)
        .map(|a| a.parse().expect("a row count"))
        .unwrap_or(1_000_000);
    let backfills = Backfills::workspace().expect("backfills");
    let backfill = backfills.get(BACKFILL).expect("the capacity backfill");
    let batch_sql = backfill.inner.batch_sql();
    assert!(
        batch_sql.contains(RANGE),
        "the batch SQL filters on {RANGE}"
    );
    let single = batch_sql.replace(RANGE, "true");

    eprintln!("loading {rows} webinars into two databases ...");
    let ((update_db, update_conn), (backfill_db, backfill_conn)) =
        tokio::join!(load("bench_update", rows), load("bench_backfill", rows));

    let started = Instant::now();
    let updated = update_conn
        .execute_unprepared(&single)
        .await
        .expect("single update")
        .rows_affected();
    let update_time = started.elapsed();
    assert_eq!(updated, rows);

    migration_runner::backfill::flags::set(&backfill_conn, BACKFILL, true, Some("bench"))
        .await
        .expect("flag on");
    let session = migration_runner::connect(&backfill_db.url, "backfill-bench")
        .await
        .expect("session");
    let stop = Arc::new(AtomicBool::new(false));
    let reading = tokio::spawn(reader(backfill_db.url.clone(), stop.clone(), rows));
    tokio::time::sleep(Duration::from_millis(100)).await;
    // `BENCH_TARGET_MS` and `BENCH_SLEEP_MS` try other throttling than the defaults.
    let env_ms = |name: &str| {
        std::env::var(name)
            .ok()
            .map(|v| Duration::from_millis(v.parse().expect("milliseconds")))
    };
    let defaults = RunOptions::default();
    let options = RunOptions {
        target_batch: env_ms("BENCH_TARGET_MS").unwrap_or(defaults.target_batch),
        sleep: env_ms("BENCH_SLEEP_MS").unwrap_or(defaults.sleep),
        ..defaults
    };
    let report = driver::run(session.connection(), backfill, &options, &mut |_| {})
        .await
        .expect("backfill");
    stop.store(true, Ordering::Relaxed);
    let (longest_read, reads) = reading.await.expect("reader");
    let _ = session.close().await;

    assert_eq!(report.rows, rows);
    let left = scalar_i64(
        &backfill_conn,
        "SELECT count(*) FROM academy.webinars WHERE capacity IS NULL",
    )
    .await;
    assert_eq!(left, 0);
    let same = scalar_i64(
        &backfill_conn,
        "SELECT count(DISTINCT capacity) FROM academy.webinars",
    )
    .await;
    let update_rate = rows as f64 / update_time.as_secs_f64();
    let backfill_rate = rows as f64 / report.elapsed.as_secs_f64();
    println!("rows                      {rows}");
    println!(
        "single UPDATE             {:>8.2} s  {:>10.0} rows/s",
        update_time.as_secs_f64(),
        update_rate
    );
    println!(
        "backfill                  {:>8.2} s  {:>10.0} rows/s  ({} batches, {} retried, sleep {} ms, target {} ms)",
        report.elapsed.as_secs_f64(),
        backfill_rate,
        report.batches,
        report.retries,
        options.sleep.as_millis(),
        options.target_batch.as_millis()
    );
    println!(
        "ratio backfill / UPDATE   {:>8.2}  (target >= 0.70)",
        backfill_rate / update_rate
    );
    println!(
        "longest batch transaction {:>8} ms (statement timeout {} ms)",
        report.longest_batch.as_millis(),
        report.statement_timeout.as_millis()
    );
    println!(
        "longest reader wait       {:>8.1} ms over {reads} reads of academy.webinars during the backfill",
        longest_read.as_secs_f64() * 1000.0
    );
    println!("distinct capacities       {same}");
    drop(update_db);
}
