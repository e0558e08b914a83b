//! A local PostgreSQL cluster kept under `target/`, started on demand from the
//! server binaries installed on the machine. It is what every command and
//! every test uses when `DATABASE_URL` is not set.
//!
//! Hand-written rather than `postgresql_embedded` or `pgtemp`: the former
//! cannot run the server as another user when we are root (PostgreSQL refuses
//! root, and CI containers are root), the latter needs `sudo`. This launcher
//! runs `initdb` and `pg_ctl` as the `postgres` system user in that case.

use std::fs::{self, File};
use std::io::Write as _;
use std::net::{TcpListener, TcpStream};
use std::os::unix::fs::{MetadataExt, OpenOptionsExt as _, PermissionsExt};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::Duration;

/// Why the local cluster could not be used.
#[derive(Debug, thiserror::Error)]
pub enum LocalPgError {
    #[error(
        "no PostgreSQL server binaries found (looked for `initdb` and `pg_ctl` in $PG_BIN_DIR, PATH, \
         `pg_config --bindir`, /usr/lib/postgresql/*/bin and Homebrew's prefixes); install them \
         (`apt-get install postgresql` on Debian/Ubuntu, `brew install postgresql@16` on macOS) or set \
         DATABASE_URL to an existing server"
    )]
    NoBinaries,
    #[error(
        "running as root, and PostgreSQL refuses to run as root; no unprivileged `postgres` system user \
         exists to run it as: create one (`useradd --system postgres`) or set DATABASE_URL"
    )]
    NoServiceUser,
    #[error("`{command}` failed ({status}): {output}\n  the server log is {}", log.display())]
    Command {
        command: String,
        status: String,
        output: String,
        log: PathBuf,
    },
    #[error("cannot prepare {}: {source}", path.display())]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
}

type Result<T, E = LocalPgError> = std::result::Result<T, E>;

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> LocalPgError + '_ {
    move |source| LocalPgError::Io {
        path: path.to_owned(),
        source,
    }
}

/// The user the server runs as when we are root.
#[derive(Debug, Clone, Copy)]
struct ServiceUser {
    uid: u32,
    gid: u32,
}

/// A cluster directory: `data/` (PGDATA, also the socket directory),
/// `postgres.log`, and the `port` and `password` files we keep for reuse.
#[derive(Debug, Clone)]
pub struct LocalCluster {
    root: PathBuf,
    bin_dir: PathBuf,
    service_user: Option<ServiceUser>,
    /// `postgresql.conf` lines added at `initdb` (a Citus node's preload).
    extra_settings: String,
}

/// What `db status` shows.
#[derive(Debug, Clone)]
pub struct ClusterStatus {
    pub root: PathBuf,
    pub bin_dir: PathBuf,
    pub initialised: bool,
    pub running: bool,
    pub port: Option<u16>,
    pub runs_as: String,
}

/// The database that `cargo xtask` commands use in the local cluster.
pub const APP_DATABASE: &str = "app";
const SUPERUSER: &str = "postgres";

impl LocalCluster {
    /// The developer cluster, `target/postgres`.
    pub fn for_project() -> Result<Self> {
        Self::at(target_dir().join("postgres"))
    }

    /// The cluster tests use, `target/postgres-test`, so a `db reset` never
    /// disturbs a running test suite; `$MIGRATION_TEST_CLUSTER` puts it
    /// elsewhere (`cargo xtask bench` runs on a fresh cluster of its own).
    pub fn for_tests() -> Result<Self> {
        match std::env::var_os("MIGRATION_TEST_CLUSTER") {
            Some(dir) => Self::at(PathBuf::from(dir)),
            None => Self::at(target_dir().join("postgres-test")),
        }
    }

    pub fn at(root: PathBuf) -> Result<Self> {
        Self::with_bin_dir(root, find_bin_dir())
    }

    fn with_bin_dir(root: PathBuf, bin_dir: Option<PathBuf>) -> Result<Self> {
        let bin_dir = bin_dir.ok_or(LocalPgError::NoBinaries)?;
        let service_user = if nix::unistd::Uid::effective().is_root() {
            let user = nix::unistd::User::from_name("postgres")
                .ok()
                .flatten()
                .ok_or(LocalPgError::NoServiceUser)?;
            Some(ServiceUser {
                uid: user.uid.as_raw(),
                gid: user.gid.as_raw(),
            })
        } else {
            None
        };
        let root = match service_user {
            Some(user) if !reachable_by(&root, user) => fallback_root(&root),
            _ => root,
        };
        Ok(Self {
            root,
            bin_dir,
            service_user,
            extra_settings: String::new(),
        })
    }

    /// The same cluster, with `settings` (lines of `postgresql.conf`) written
    /// when it is initialised.
    pub fn with_settings(mut self, settings: &str) -> Self {
        self.extra_settings = settings.to_owned();
        self
    }

    /// The directory holding the server binaries.
    pub fn bin_dir(&self) -> &Path {
        &self.bin_dir
    }

    /// The superuser's password, shared by every node of a Citus cluster so
    /// the nodes can log in to each other (through the `.pgpass` beside it).
    pub fn share_password(&self, password: &str) -> Result<()> {
        fs::create_dir_all(&self.root).map_err(io(&self.root))?;
        if !self.password_file().exists() {
            write_private(&self.password_file(), password)?;
        }
        let pgpass = self.root.join(".pgpass");
        write_private(&pgpass, &format!("127.0.0.1:*:*:{SUPERUSER}:{password}\n"))?;
        self.hand_over(&pgpass)
    }

    /// Runs `sql` with `psql` over the cluster's socket in `database`, stopping
    /// at the first error; returns what it printed (unaligned, tuples only).
    pub fn psql_command(&self, database: &str, sql: &str) -> Result<String> {
        let (host, port) = self.socket_args()?;
        let output = self.run(
            "psql",
            &[
                "-X".as_ref(),
                "-q".as_ref(),
                "-A".as_ref(),
                "-t".as_ref(),
                "-v".as_ref(),
                "ON_ERROR_STOP=1".as_ref(),
                "-h".as_ref(),
                host.as_os_str(),
                "-p".as_ref(),
                port.as_ref(),
                "-U".as_ref(),
                SUPERUSER.as_ref(),
                "-d".as_ref(),
                database.as_ref(),
                "-c".as_ref(),
                sql.as_ref(),
            ],
        )?;
        Ok(String::from_utf8_lossy(&output.stdout).trim().to_owned())
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    fn data_dir(&self) -> PathBuf {
        self.root.join("data")
    }

    /// The directory of the server's Unix socket (`?host=` in a URL).
    pub fn socket_dir(&self) -> PathBuf {
        self.data_dir()
    }

    fn log_file(&self) -> PathBuf {
        self.root.join("postgres.log")
    }

    fn port_file(&self) -> PathBuf {
        self.root.join("port")
    }

    fn password_file(&self) -> PathBuf {
        self.root.join("password")
    }

    pub fn is_initialised(&self) -> bool {
        self.data_dir().join("PG_VERSION").exists()
    }

    pub fn port(&self) -> Option<u16> {
        fs::read_to_string(self.port_file())
            .ok()?
            .trim()
            .parse()
            .ok()
    }

    fn password(&self) -> Result<String> {
        let path = self.password_file();
        Ok(fs::read_to_string(&path)
            .map_err(io(&path))?
            .trim()
            .to_owned())
    }

    /// Whether a server answers on the recorded port.
    pub fn is_running(&self) -> bool {
        self.port().is_some_and(|port| {
            TcpStream::connect_timeout(&([127, 0, 0, 1], port).into(), Duration::from_millis(200))
                .is_ok()
        }) && self.data_dir().join("postmaster.pid").exists()
    }

    /// Initialises the cluster if needed and starts it if it is not running.
    /// Safe to call from many processes at once: they serialise on a lock file.
    pub fn ensure_running(&self) -> Result<()> {
        if self.is_running() {
            return Ok(());
        }
        fs::create_dir_all(&self.root).map_err(io(&self.root))?;
        let lock_path = self.root.with_extension("lock");
        let lock = File::create(&lock_path).map_err(io(&lock_path))?;
        lock.lock().map_err(io(&lock_path))?;
        if self.is_running() {
            return Ok(());
        }
        if self.is_initialised() {
            return self.start();
        }
        self.initdb()?;
        self.start()?;
        self.create_database(APP_DATABASE)
    }

    /// `createdb` over the cluster's socket.
    pub fn create_database(&self, name: &str) -> Result<()> {
        let (host, port) = self.socket_args()?;
        self.run(
            "createdb",
            &[
                "-h".as_ref(),
                host.as_os_str(),
                "-p".as_ref(),
                port.as_ref(),
                "-U".as_ref(),
                SUPERUSER.as_ref(),
                name.as_ref(),
            ],
        )
        .map(drop)
    }

    /// `dropdb --if-exists --force` over the cluster's socket.
    pub fn drop_database(&self, name: &str) -> Result<()> {
        let (host, port) = self.socket_args()?;
        self.run(
            "dropdb",
            &[
                "-h".as_ref(),
                host.as_os_str(),
                "-p".as_ref(),
                port.as_ref(),
                "-U".as_ref(),
                SUPERUSER.as_ref(),
                "--if-exists".as_ref(),
                "--force".as_ref(),
                name.as_ref(),
            ],
        )
        .map(drop)
    }

    fn socket_args(&self) -> Result<(PathBuf, String)> {
        let port = self.port().ok_or_else(|| LocalPgError::Io {
            path: self.port_file(),
            source: std::io::Error::new(
                std::io::ErrorKind::NotFound,
                "the cluster has not been started",
            ),
        })?;
        Ok((self.data_dir(), port.to_string()))
    }

    fn initdb(&self) -> Result<()> {
        let data = self.data_dir();
        if data.exists() {
            // A half-initialised directory from an interrupted run.
            fs::remove_dir_all(&data).map_err(io(&data))?;
        }
        self.hand_over(&self.root)?;
        // A password shared beforehand (a Citus node's) is kept.
        let password = match self.password() {
            Ok(password) if !password.is_empty() => password,
            _ => uuid::Uuid::new_v4().simple().to_string(),
        };
        let password_path = self.password_file();
        write_private(&password_path, &password)?;
        // initdb reads the superuser password from a file the server user can read.
        let pwfile = self.root.join("initdb-password");
        write_private(&pwfile, &password)?;
        self.hand_over(&pwfile)?;
        let outcome = self.run(
            "initdb",
            &[
                "-D".as_ref(),
                data.as_os_str(),
                "-U".as_ref(),
                SUPERUSER.as_ref(),
                "--auth-local=trust".as_ref(),
                "--auth-host=scram-sha-256".as_ref(),
                "--pwfile".as_ref(),
                pwfile.as_os_str(),
                "--locale=C.UTF-8".as_ref(),
                "--encoding=UTF8".as_ref(),
                "--no-instructions".as_ref(),
            ],
        );
        let _ = fs::remove_file(&pwfile);
        outcome?;
        // A throwaway development cluster: durability is traded for speed.
        let settings = format!(
            "\n# written by migration-runner's local cluster\n\
             listen_addresses = '127.0.0.1, ::1'\n\
             unix_socket_directories = '{}'\n\
             max_connections = 300\n\
             fsync = off\n\
             synchronous_commit = off\n\
             full_page_writes = off\n\
             log_min_messages = warning\n",
            data.display()
        );
        let version: u32 = fs::read_to_string(data.join("PG_VERSION"))
            .ok()
            .and_then(|v| v.trim().parse().ok())
            .unwrap_or(0);
        let settings = if version >= 14 {
            // End a query whose client died (a deploy killed with SIGKILL) within
            // a second, instead of when the statement finishes.
            settings + "client_connection_check_interval = 1000\n"
        } else {
            settings
        } + &self.extra_settings;
        let conf = data.join("postgresql.conf");
        fs::OpenOptions::new()
            .append(true)
            .open(&conf)
            .and_then(|mut file| file.write_all(settings.as_bytes()))
            .map_err(io(&conf))
    }

    fn start(&self) -> Result<()> {
        let port = self
            .port()
            .filter(|port| TcpListener::bind(("127.0.0.1", *port)).is_ok())
            .map_or_else(free_port, Ok)?;
        let port_path = self.port_file();
        fs::write(&port_path, port.to_string()).map_err(io(&port_path))?;
        let data = self.data_dir();
        let log = self.log_file();
        self.run(
            "pg_ctl",
            &[
                "-D".as_ref(),
                data.as_os_str(),
                "-l".as_ref(),
                log.as_os_str(),
                "-o".as_ref(),
                // On the command line too, so a cluster initialised before
                // IPv6 loopback was listed listens there as well (tests reach
                // it as `[::1]`).
                format!("-p {port} -c listen_addresses=127.0.0.1,::1").as_ref(),
                "-w".as_ref(),
                "-t".as_ref(),
                "60".as_ref(),
                "start".as_ref(),
            ],
        )?;
        Ok(())
    }

    /// Turns TLS on with the given certificate and key (PEM), replacing the
    /// ones it had, and restarts the server (a reload would leave a moment
    /// when new connections still see the old certificate).
    pub fn enable_tls(&self, certificate_pem: &[u8], key_pem: &[u8]) -> Result<()> {
        let data = self.data_dir();
        for (name, contents) in [("server.crt", certificate_pem), ("server.key", key_pem)] {
            let path = data.join(name);
            fs::write(&path, contents).map_err(io(&path))?;
            self.hand_over(&path)?;
        }
        let conf = data.join("postgresql.conf");
        let current = fs::read_to_string(&conf).map_err(io(&conf))?;
        if !current.contains("\nssl = on\n") {
            fs::OpenOptions::new()
                .append(true)
                .open(&conf)
                .and_then(|mut file| file.write_all(b"\nssl = on\n"))
                .map_err(io(&conf))?;
        }
        self.run(
            "pg_ctl",
            &[
                "-D".as_ref(),
                data.as_os_str(),
                "-l".as_ref(),
                self.log_file().as_os_str(),
                "-m".as_ref(),
                "fast".as_ref(),
                "-w".as_ref(),
                "restart".as_ref(),
            ],
        )
        .map(drop)
    }

    /// Stops the server; stopping a stopped cluster is not an error.
    pub fn stop(&self) -> Result<bool> {
        if !self.is_initialised() || !self.data_dir().join("postmaster.pid").exists() {
            return Ok(false);
        }
        let data = self.data_dir();
        self.run(
            "pg_ctl",
            &[
                "-D".as_ref(),
                data.as_os_str(),
                "-m".as_ref(),
                "fast".as_ref(),
                "-w".as_ref(),
                "stop".as_ref(),
            ],
        )?;
        Ok(true)
    }

    pub fn status(&self) -> ClusterStatus {
        ClusterStatus {
            root: self.root.clone(),
            bin_dir: self.bin_dir.clone(),
            initialised: self.is_initialised(),
            running: self.is_running(),
            port: self.port(),
            runs_as: match self.service_user {
                Some(user) => format!(
                    "the `postgres` system user (uid {}), because we run as root",
                    user.uid
                ),
                None => "the current user".to_owned(),
            },
        }
    }

    /// `postgres://postgres:<password>@127.0.0.1:<port>/<database>`.
    pub fn url(&self, database: &str) -> Result<String> {
        let port = self.port().ok_or_else(|| LocalPgError::Io {
            path: self.port_file(),
            source: std::io::Error::new(
                std::io::ErrorKind::NotFound,
                "the cluster has not been started",
            ),
        })?;
        Ok(format!(
            "postgres://{SUPERUSER}:{}@127.0.0.1:{port}/{database}",
            self.password()?
        ))
    }

    /// Where `psql` lives, for `cargo xtask db psql`.
    pub fn psql(&self) -> PathBuf {
        self.bin_dir.join("psql")
    }

    /// Makes `path` owned by the server user when we are root.
    fn hand_over(&self, path: &Path) -> Result<()> {
        if let Some(user) = self.service_user {
            std::os::unix::fs::chown(path, Some(user.uid), Some(user.gid)).map_err(io(path))?;
            fs::set_permissions(
                path,
                fs::Permissions::from_mode(if path.is_dir() { 0o700 } else { 0o600 }),
            )
            .map_err(io(path))?;
        }
        Ok(())
    }

    fn run(&self, program: &str, args: &[&std::ffi::OsStr]) -> Result<Output> {
        let mut command = Command::new(self.bin_dir.join(program));
        command
            .args(args)
            .current_dir(&self.root)
            .env("LC_ALL", "C.UTF-8")
            // How a Citus node logs in to the other nodes (see `share_password`).
            .env("PGPASSFILE", self.root.join(".pgpass"));
        if let Some(user) = self.service_user {
            command.uid(user.uid).gid(user.gid).env("HOME", &self.root);
        }
        let rendered = format!(
            "{program} {}",
            args.iter()
                .map(|a| a.to_string_lossy())
                .collect::<Vec<_>>()
                .join(" ")
        );
        let output = command.output().map_err(|source| LocalPgError::Io {
            path: self.bin_dir.join(program),
            source,
        })?;
        if output.status.success() {
            Ok(output)
        } else {
            let text = format!(
                "{}{}",
                String::from_utf8_lossy(&output.stdout),
                String::from_utf8_lossy(&output.stderr)
            );
            Err(LocalPgError::Command {
                command: rendered,
                status: output.status.to_string(),
                output: text.trim().to_owned(),
                log: self.log_file(),
            })
        }
    }
}

/// `CARGO_TARGET_DIR`, or the workspace's `target/` (this crate lives in
/// `migration-runner/dev`, two levels below the workspace root).
pub fn target_dir() -> PathBuf {
    let dir = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            Path::new(env!("CARGO_MANIFEST_DIR"))
                .join("../..")
                .join("target")
        });
    fs::create_dir_all(&dir).ok();
    fs::canonicalize(&dir).unwrap_or(dir)
}

fn write_private(path: &Path, contents: &str) -> Result<()> {
    let mut file = fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(path)
        .map_err(io(path))?;
    file.write_all(contents.as_bytes()).map_err(io(path))
}

fn free_port() -> Result<u16> {
    let listener = TcpListener::bind(("127.0.0.1", 0)).map_err(io(Path::new("127.0.0.1:0")))?;
    let port = listener
        .local_addr()
        .map_err(io(Path::new("127.0.0.1:0")))?
        .port();
    Ok(port)
}

/// Whether the server user can reach `dir`: every existing ancestor must be
/// searchable by it.
fn reachable_by(dir: &Path, user: ServiceUser) -> bool {
    dir.ancestors()
        .skip(1)
        .filter(|a| a.exists())
        .all(|ancestor| {
            fs::metadata(ancestor).is_ok_and(|meta| {
                let mode = meta.mode();
                mode & 0o001 != 0
                    || (meta.uid() == user.uid && mode & 0o100 != 0)
                    || (meta.gid() == user.gid && mode & 0o010 != 0)
            })
        })
}

/// A directory the server user can reach, stable for a given project path.
fn fallback_root(wanted: &Path) -> PathBuf {
    use std::hash::{Hash, Hasher};
    let mut hasher = std::collections::hash_map::DefaultHasher::new();
    wanted.hash(&mut hasher);
    std::env::temp_dir().join(format!("migration-runner-pg-{:016x}", hasher.finish()))
}

/// Looks for a directory holding `initdb` and `pg_ctl`.
pub fn find_bin_dir() -> Option<PathBuf> {
    first_server_dir(search_path())
}

/// Where to look, in order: $PG_BIN_DIR, then the engine's search path
/// (PATH, `pg_config --bindir`, Debian's versioned directories, Homebrew's).
fn search_path() -> Vec<PathBuf> {
    let mut candidates: Vec<PathBuf> = Vec::new();
    if let Some(dir) = std::env::var_os("PG_BIN_DIR") {
        candidates.push(dir.into());
    }
    candidates.extend(migration_runner::operations::tools::search_path());
    candidates
}

fn first_server_dir(candidates: Vec<PathBuf>) -> Option<PathBuf> {
    let has_server = |dir: &Path| dir.join("initdb").is_file() && dir.join("pg_ctl").is_file();
    // PATH often holds symlinks (`/usr/local/bin/initdb -> .../15/bin/initdb`):
    // follow them to the directory that also has createdb, psql and the rest.
    candidates
        .into_iter()
        .find(|dir| has_server(dir))
        .map(|dir| {
            fs::canonicalize(dir.join("initdb"))
                .ok()
                .and_then(|initdb| initdb.parent().map(Path::to_path_buf))
                .filter(|real| has_server(real))
                .unwrap_or(dir)
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn no_binaries_says_what_to_install() {
        let dir = std::env::temp_dir().join("no-postgres-here");
        assert_eq!(first_server_dir(vec![dir.clone()]), None);
        let message = LocalCluster::with_bin_dir(dir, None)
            .unwrap_err()
            .to_string();
        assert!(message.contains("apt-get install postgresql"), "{message}");
        assert!(message.contains("brew install postgresql@16"), "{message}");
        assert!(message.contains("set DATABASE_URL"), "{message}");
    }

    #[test]
    fn symlinked_binaries_resolve_to_their_real_directory() {
        let real = find_bin_dir()
            .expect("PostgreSQL server binaries are installed: the test suite needs them");
        let links = std::env::temp_dir().join(format!("pg-links-{}", std::process::id()));
        fs::create_dir_all(&links).unwrap();
        for binary in ["initdb", "pg_ctl"] {
            let _ = fs::remove_file(links.join(binary));
            std::os::unix::fs::symlink(real.join(binary), links.join(binary)).unwrap();
        }
        assert_eq!(
            first_server_dir(vec![links.clone()]),
            Some(fs::canonicalize(&real).unwrap())
        );
        fs::remove_dir_all(&links).unwrap();
    }
}
