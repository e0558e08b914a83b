//! Connecting the way libpq does, against a server with a self-signed
//! certificate: `prefer` (the default) and `require` encrypt without checking
//! the certificate, `verify-ca` checks it against `sslrootcert`, and
//! `verify-full` also checks the host name. Citus turns TLS on with exactly
//! such a certificate (version 1, valid for zero seconds), which the runner
//! used to refuse under the default `sslmode`.

use std::path::{Path, PathBuf};

use migration_dev::local_pg::{LocalCluster, target_dir};
use openssl::asn1::Asn1Time;
use openssl::bn::BigNum;
use openssl::hash::MessageDigest;
use openssl::pkey::{PKey, Private};
use openssl::rsa::Rsa;
use openssl::x509::{X509, X509NameBuilder};

use crate::support::{all_output, runner_binary};

/// One server, whose certificate the tests swap: they take turns.
static SERVER: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

struct Certificate {
    pem: Vec<u8>,
    key_pem: Vec<u8>,
}

/// A self-signed certificate for `common_name`, version 1 like Citus's,
/// valid for `seconds` from now (Citus: 0).
fn self_signed(common_name: &str, seconds: u32) -> Certificate {
    let key: PKey<Private> = PKey::from_rsa(Rsa::generate(2048).unwrap()).unwrap();
    let mut name = X509NameBuilder::new().unwrap();
    name.append_entry_by_text("CN", common_name).unwrap();
    let name = name.build();
    let mut builder = X509::builder().unwrap();
    builder.set_version(0).unwrap();
    builder
        .set_serial_number(&BigNum::from_u32(1).unwrap().to_asn1_integer().unwrap())
        .unwrap();
    builder.set_subject_name(&name).unwrap();
    builder.set_issuer_name(&name).unwrap();
    builder.set_pubkey(&key).unwrap();
    builder
        .set_not_before(&Asn1Time::days_from_now(0).unwrap())
        .unwrap();
    builder
        .set_not_after(&Asn1Time::from_unix(time_now() + i64::from(seconds)).unwrap())
        .unwrap();
    builder.sign(&key, MessageDigest::sha256()).unwrap();
    Certificate {
        pem: builder.build().to_pem().unwrap(),
        key_pem: key.private_key_to_pem_pkcs8().unwrap(),
    }
}

fn time_now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}

fn tls_cluster(certificate: &Certificate) -> LocalCluster {
    let cluster = LocalCluster::at(target_dir().join("postgres-tls")).unwrap();
    cluster.ensure_running().unwrap();
    cluster
        .enable_tls(&certificate.pem, &certificate.key_pem)
        .unwrap();
    cluster
}

fn root_certificate_file(certificate: &Certificate, label: &str) -> PathBuf {
    let path = target_dir().join(format!("tls-root-{label}-{}.pem", std::process::id()));
    std::fs::write(&path, &certificate.pem).unwrap();
    path
}

/// `status` against `url` (an empty history reads fine): its exit code and output.
fn status(url: &str) -> (i32, String) {
    let output = runner_binary(Some(url), &["status"], &[]);
    (output.status.code().unwrap_or(-1), all_output(&output))
}

/// Whether the session `url` opens is encrypted, read from the server's side.
async fn encrypted(url: &str) -> Result<bool, String> {
    use sea_orm::ConnectionTrait;
    let session = migration_runner::connect(url, "tls-test")
        .await
        .map_err(|err| err.to_string())?;
    let row = session
        .connection()
        .query_one_raw(sea_orm::Statement::from_string(
            sea_orm::DbBackend::Postgres,
            "SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()",
        ))
        .await
        .map_err(|err| err.to_string())?
        .expect("one row");
    let ssl: bool = row.try_get_by_index(0).unwrap();
    session.close().await.ok();
    Ok(ssl)
}

fn with_mode(base: &str, query: &str) -> String {
    format!("{base}?{query}")
}

fn with_host(url: &str, host: &str) -> String {
    url.replacen("@127.0.0.1:", &format!("@{host}:"), 1)
}

fn display(path: &Path) -> String {
    path.display().to_string()
}

#[tokio::test]
async fn prefer_and_require_encrypt_without_checking_a_citus_style_certificate() {
    let _turn = SERVER.lock().await;
    let cluster = tls_cluster(&self_signed("citus-auto-ssl", 0));
    let base = cluster.url("postgres").unwrap();

    assert_eq!(encrypted(&base).await, Ok(true), "default sslmode (prefer)");
    assert_eq!(
        encrypted(&with_mode(&base, "sslmode=prefer")).await,
        Ok(true)
    );
    assert_eq!(
        encrypted(&with_mode(&base, "sslmode=require")).await,
        Ok(true)
    );
    assert_eq!(
        encrypted(&with_mode(&base, "sslmode=disable")).await,
        Ok(false)
    );
    // Connected: `status` exits 1 because the empty database has everything pending.
    let (code, output) = status(&base);
    assert_eq!(code, 1, "{output}");
    assert!(output.contains("pending"), "{output}");
    // The expired, unverifiable certificate is refused when verification is asked for.
    let root = root_certificate_file(&self_signed("citus-auto-ssl", 0), "citus");
    let verify = with_mode(
        &base,
        &format!("sslmode=verify-ca&sslrootcert={}", display(&root)),
    );
    let (code, output) = status(&verify);
    assert_eq!(code, 4, "{output}");
    assert!(output.contains("certificate"), "{output}");
    assert!(output.contains("sslrootcert"), "{output}");
    std::fs::remove_file(root).ok();
}

#[tokio::test]
async fn verify_ca_and_verify_full_check_the_certificate_against_sslrootcert() {
    let _turn = SERVER.lock().await;
    let certificate = self_signed("localhost", 3600);
    let cluster = tls_cluster(&certificate);
    let base = cluster.url("postgres").unwrap();
    let root = root_certificate_file(&certificate, "good");
    let stranger = root_certificate_file(&self_signed("localhost", 3600), "stranger");
    let rooted = |mode: &str, root: &Path| format!("sslmode={mode}&sslrootcert={}", display(root));

    // verify-ca: the server's certificate must be signed by the given root;
    // the host name is not checked (127.0.0.1 is not `localhost`).
    assert_eq!(
        encrypted(&with_mode(&base, &rooted("verify-ca", &root))).await,
        Ok(true)
    );
    let refused = encrypted(&with_mode(&base, &rooted("verify-ca", &stranger))).await;
    assert!(
        refused.is_err(),
        "another root must not verify: {refused:?}"
    );
    let refused = encrypted(&with_mode(&base, "sslmode=verify-ca")).await;
    assert!(
        refused.is_err(),
        "no sslrootcert: the system roots do not know it: {refused:?}"
    );

    // verify-full: the host name must match the certificate too.
    let by_name = with_host(&base, "localhost");
    assert_eq!(
        encrypted(&with_mode(&by_name, &rooted("verify-full", &root))).await,
        Ok(true)
    );
    let refused = encrypted(&with_mode(&base, &rooted("verify-full", &root))).await;
    assert!(
        refused.is_err(),
        "127.0.0.1 is not the certificate's name: {refused:?}"
    );

    // The binary says so with its connection exit code, and keeps the password out.
    let (code, output) = status(&with_mode(&base, &rooted("verify-full", &root)));
    assert_eq!(code, 4, "{output}");
    assert!(output.contains("verify-full"), "{output}");
    let password = base
        .split_once("postgres:")
        .and_then(|(_, rest)| rest.split_once('@'))
        .map(|(password, _)| password.to_owned())
        .unwrap();
    assert!(!output.contains(&password), "{output}");
    let (code, output) = status(&with_mode(&by_name, &rooted("verify-full", &root)));
    assert_eq!(code, 1, "connected, everything pending: {output}");
    // A root certificate file that is not there is named, not taken for an unreachable server.
    let missing = Path::new("/nonexistent/root.pem");
    let (code, output) = status(&with_mode(&by_name, &rooted("verify-full", missing)));
    assert_eq!(code, 4, "{output}");
    assert!(
        output.contains("`sslrootcert` file /nonexistent/root.pem does not exist"),
        "{output}"
    );

    std::fs::remove_file(root).ok();
    std::fs::remove_file(stranger).ok();
}
