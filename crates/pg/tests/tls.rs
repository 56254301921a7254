//! TLS and connection settings against servers of the test's own, with
//! ssl=on and scram-sha-256 for TCP connections, and certificates made here
//! with `openssl`: a CA, a server certificate it signs for `localhost`, an
//! X.509 version 1 self-signed server certificate (as Citus makes), and a
//! client certificate it signs. Settings are passed with
//! `Database::parse_with_env`, so no test reads or changes the process's
//! environment or the real `~/.postgresql`.

use std::collections::HashMap;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Command;

use domgen_pg::{Database, SslMode};
use tokio_postgres::Config;

const PASSWORD: &str = "s3cret-pw";

/// Which certificate the server shows.
#[derive(Clone, Copy, PartialEq)]
enum ServerCert {
    /// Signed by the test's CA, subjectAltName DNS:localhost.
    CaSigned,
    /// Self-signed, X.509 version 1 (`openssl x509 -req -signkey`, no
    /// extensions).
    V1,
}

/// A throwaway server listening on 127.0.0.1 with TLS and a password, and
/// the certificates of the test.
struct Server {
    dir: PathBuf,
    port: u16,
    user: Option<&'static str>,
    bin: PathBuf,
}

fn bin_dir() -> PathBuf {
    let mut dirs: Vec<PathBuf> = std::fs::read_dir("/usr/lib/postgresql")
        .expect("PostgreSQL's binaries are needed: apt-get install postgresql")
        .filter_map(|e| e.ok().map(|e| e.path().join("bin")))
        .filter(|p| p.join("initdb").exists())
        .collect();
    dirs.sort();
    dirs.pop()
        .expect("PostgreSQL's binaries are needed: apt-get install postgresql")
}

fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|o| o.stdout.starts_with(b"0\n"))
}

fn openssl(dir: &Path, args: &[&str]) {
    run(Command::new("openssl").args(args).current_dir(dir));
}

/// The CA, the CA-signed server and client certificates, and the v1 one.
fn make_certificates(d: &Path) {
    openssl(
        d,
        &[
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-days",
            "1",
            "-subj",
            "/CN=domgen test CA",
            "-keyout",
            "ca.key",
            "-out",
            "ca.crt",
        ],
    );
    // Another CA, which signed nothing the server shows.
    openssl(
        d,
        &[
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-days",
            "1",
            "-subj",
            "/CN=someone else's CA",
            "-keyout",
            "other-ca.key",
            "-out",
            "other-ca.crt",
        ],
    );
    std::fs::write(
        d.join("server.ext"),
        "subjectAltName=DNS:localhost\nbasicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\n",
    )
    .unwrap();
    let signed_by_ca = |name: &str, cn: &str, ext: Option<&str>| {
        openssl(
            d,
            &[
                "req",
                "-new",
                "-newkey",
                "rsa:2048",
                "-nodes",
                "-subj",
                cn,
                "-keyout",
                &format!("{name}.key"),
                "-out",
                &format!("{name}.csr"),
            ],
        );
        let mut args = vec![
            "x509".to_owned(),
            "-req".into(),
            "-in".into(),
            format!("{name}.csr"),
            "-CA".into(),
            "ca.crt".into(),
            "-CAkey".into(),
            "ca.key".into(),
            "-CAcreateserial".into(),
            "-days".into(),
            "1".into(),
            "-out".into(),
            format!("{name}.crt"),
        ];
        if let Some(ext) = ext {
            args.extend(["-extfile".into(), ext.into()]);
        }
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        openssl(d, &args);
    };
    signed_by_ca("server", "/CN=localhost", Some("server.ext"));
    // No extensions: a v1 client certificate, which servers accept.
    signed_by_ca("client", "/CN=certuser", None);
    openssl(
        d,
        &[
            "req",
            "-new",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-subj",
            "/CN=localhost",
            "-keyout",
            "v1.key",
            "-out",
            "v1.csr",
        ],
    );
    openssl(
        d,
        &[
            "x509", "-req", "-in", "v1.csr", "-signkey", "v1.key", "-days", "1", "-out", "v1.crt",
        ],
    );
    let text = Command::new("openssl")
        .args(["x509", "-noout", "-text", "-in"])
        .arg(d.join("v1.crt"))
        .output()
        .unwrap();
    assert!(
        String::from_utf8_lossy(&text.stdout).contains("Version: 1 (0x0)"),
        "openssl made no v1 certificate"
    );
}

impl Server {
    fn start(name: &str, cert: ServerCert) -> Server {
        let dir = PathBuf::from(format!("/tmp/domgen-tls-{}-{name}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let user = is_root().then_some("postgres");
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let server = Server {
            dir,
            port,
            user,
            bin: bin_dir(),
        };
        let d = &server.dir;
        make_certificates(d);
        std::fs::write(d.join("pw"), PASSWORD).unwrap();
        if let Some(user) = user {
            run(Command::new("chown").args(["-R", user]).arg(d));
        }
        for key in ["server.key", "v1.key"] {
            run(Command::new("chmod").arg("600").arg(d.join(key)));
        }
        let data = d.join("data");
        server.as_server(&[
            server.bin.join("initdb").to_str().unwrap(),
            "-D",
            data.to_str().unwrap(),
            "-U",
            "domgen",
            "--auth-local=trust",
            "--auth-host=scram-sha-256",
            "--pwfile",
            d.join("pw").to_str().unwrap(),
        ]);
        // Before initdb's lines, which take every other TCP login.
        let hba = data.join("pg_hba.conf");
        let rest = std::fs::read_to_string(&hba).unwrap();
        std::fs::write(
            &hba,
            format!(
                "hostssl all certuser 127.0.0.1/32 cert\n\
                 hostssl all tlsonly 127.0.0.1/32 scram-sha-256\n\
                 host all tlsonly 127.0.0.1/32 reject\n{rest}"
            ),
        )
        .unwrap();
        let (crt, key) = match cert {
            ServerCert::CaSigned => ("server.crt", "server.key"),
            ServerCert::V1 => ("v1.crt", "v1.key"),
        };
        let options = format!(
            "-c listen_addresses=127.0.0.1 -c port={port} -c unix_socket_directories={} \
             -c ssl=on -c ssl_cert_file={} -c ssl_key_file={} -c ssl_ca_file={}",
            d.display(),
            d.join(crt).display(),
            d.join(key).display(),
            d.join("ca.crt").display(),
        );
        server.as_server(&[
            server.bin.join("pg_ctl").to_str().unwrap(),
            "-D",
            data.to_str().unwrap(),
            "-l",
            d.join("log").to_str().unwrap(),
            "-o",
            &options,
            "-w",
            "start",
        ]);
        server.sql(&format!(
            "CREATE ROLE certuser LOGIN; CREATE ROLE tlsonly LOGIN PASSWORD '{PASSWORD}'"
        ));
        server
    }

    fn as_server(&self, args: &[&str]) {
        let mut command = match self.user {
            Some(user) => {
                let mut c = Command::new("runuser");
                c.args(["-u", user, "--"]);
                c
            }
            None => Command::new(args[0]),
        };
        let rest = if self.user.is_some() {
            args
        } else {
            &args[1..]
        };
        command.args(rest).current_dir(Path::new("/tmp"));
        run(&mut command);
    }

    /// Runs `sql` over the Unix socket (trust).
    fn sql(&self, sql: &str) {
        let db = self.database(
            &format!("host={} user=domgen dbname=postgres", self.dir.display()),
            &[],
        );
        rt().block_on(async {
            let client = db.connect().await.unwrap();
            client.batch_execute(sql).await.unwrap();
        });
    }

    fn path(&self, file: &str) -> String {
        self.dir.join(file).display().to_string()
    }

    /// `settings` for this server's port, with `env` as the environment.
    fn database(&self, settings: &str, env: &[(&str, &str)]) -> Database {
        self.try_database(settings, env).unwrap()
    }

    fn try_database(
        &self,
        settings: &str,
        env: &[(&str, &str)],
    ) -> Result<Database, domgen_pg::Error> {
        let env: HashMap<String, String> = env
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        Database::parse_with_env(&format!("port={} {settings}", self.port), |name| {
            env.get(name).cloned()
        })
    }

    /// domgen at `host` with the password and `more` settings.
    fn domgen(&self, host: &str, more: &str) -> Database {
        self.database(
            &format!("host={host} user=domgen password={PASSWORD} dbname=postgres {more}"),
            &[],
        )
    }

    fn config(&self, password: &str, sslmode: &str) -> Config {
        format!(
            "host=127.0.0.1 port={} user=domgen password={password} dbname=postgres sslmode={sslmode}",
            self.port
        )
        .parse()
        .unwrap()
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let data = self.dir.join("data");
        self.as_server(&[
            self.bin.join("pg_ctl").to_str().unwrap(),
            "-D",
            data.to_str().unwrap(),
            "-m",
            "immediate",
            "stop",
        ]);
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn run(command: &mut Command) {
    let out = command
        .output()
        .unwrap_or_else(|e| panic!("{command:?}: {e}"));
    assert!(
        out.status.success(),
        "{command:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

fn rt() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
}

/// Whether the connection `db` opens is encrypted, by the server's word.
fn ssl_in_use(db: &Database) -> Result<bool, domgen_pg::Error> {
    rt().block_on(async {
        let client = db.connect().await?;
        let row = client
            .query_one(
                "SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()",
                &[],
            )
            .await?;
        Ok(row.get(0))
    })
}

/// The message of a connection that must fail, checked for `words`.
#[track_caller]
fn refused(db: &Database, words: &[&str]) -> String {
    let e = ssl_in_use(db).expect_err("the connection should be refused");
    assert_eq!(e.kind(), domgen_pg::ErrorKind::Connection, "{e}");
    // Refused at every try: a run must not keep reconnecting to it.
    assert!(!e.is_transient(), "{e}");
    let shown = e.to_string();
    for word in words {
        assert!(shown.contains(word), "`{word}` missing from: {shown}");
    }
    assert!(!shown.contains(PASSWORD), "{shown}");
    shown
}

#[test]
fn sslmode_require_encrypts_and_passwords_stay_out_of_errors() {
    let server = Server::start("pw", ServerCert::CaSigned);
    let connect = |config: &Config| {
        rt().block_on(async {
            let (client, _task) = domgen_pg::connect(config).await?;
            let row = client
                .query_one(
                    "SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()",
                    &[],
                )
                .await?;
            Ok::<bool, tokio_postgres::Error>(row.get(0))
        })
    };
    assert!(connect(&server.config(PASSWORD, "require")).unwrap());
    assert!(connect(&server.config(PASSWORD, "prefer")).unwrap());
    assert!(!connect(&server.config(PASSWORD, "disable")).unwrap());
    let err = connect(&server.config("wrong-pw-123", "require")).unwrap_err();
    let shown = domgen_pg::Error::from(err).to_string();
    assert!(shown.contains("password authentication failed"), "{shown}");
    assert!(
        !shown.contains("wrong-pw-123") && !shown.contains(PASSWORD),
        "{shown}"
    );
}

/// The bug: prefer and require failed with `UnsupportedCertVersion`
/// against a self-signed X.509 v1 certificate, which psql accepts.
#[test]
fn x509_v1_server_certificate_is_accepted_by_prefer_and_require() {
    let server = Server::start("v1", ServerCert::V1);
    for mode in ["prefer", "require"] {
        for host in ["127.0.0.1", "localhost"] {
            let db = server.domgen(host, &format!("sslmode={mode}"));
            assert!(ssl_in_use(&db).unwrap(), "sslmode={mode} host={host}");
        }
    }
    // tokio-postgres's Config and Connections take the same path.
    let config = server.config(PASSWORD, "require");
    rt().block_on(async {
        let (client, _task) = domgen_pg::connect(&config).await.unwrap();
        client.simple_query("SELECT 1").await.unwrap();
    });

    // It cannot be checked against a CA: refused, and said why.
    let ca = server.path("ca.crt");
    for mode in ["verify-full", "verify-ca"] {
        let db = server.domgen("localhost", &format!("sslmode={mode} sslrootcert={ca}"));
        refused(
            &db,
            &[
                "host=localhost",
                "X.509 version 1",
                &format!("sslmode={mode}"),
                "sslmode=require",
            ],
        );
    }
    // A root file makes require check the chain, as libpq.
    let db = server.domgen("localhost", &format!("sslmode=require sslrootcert={ca}"));
    refused(&db, &["X.509 version 1", "sslmode=require"]);
}

#[test]
fn ca_signed_server_verify_modes_client_certificates_env_and_pgpass() {
    let server = Server::start("ca", ServerCert::CaSigned);
    let ca = server.path("ca.crt");

    // Any mode encrypts; verify-full checks the CA and the name.
    for mode in ["prefer", "require"] {
        assert!(ssl_in_use(&server.domgen("127.0.0.1", &format!("sslmode={mode}"))).unwrap());
    }
    let full = server.domgen(
        "localhost",
        &format!("sslmode=verify-full sslrootcert={ca}"),
    );
    assert_eq!(full.ssl_mode(), SslMode::VerifyFull);
    assert!(ssl_in_use(&full).unwrap());

    // The certificate names localhost only.
    let by_ip = server.domgen(
        "127.0.0.1",
        &format!("sslmode=verify-full sslrootcert={ca}"),
    );
    refused(
        &by_ip,
        &[
            "host=127.0.0.1",
            "not valid for the host name 127.0.0.1",
            "it names localhost;",
            "sslmode=verify-ca",
        ],
    );
    // verify-ca checks the CA, not the name.
    let ca_only = server.domgen("127.0.0.1", &format!("sslmode=verify-ca sslrootcert={ca}"));
    assert!(ssl_in_use(&ca_only).unwrap());

    // Another CA: not signed by it, in every verifying mode.
    let other = server.path("other-ca.crt");
    for mode in ["verify-full", "verify-ca", "require"] {
        let db = server.domgen("localhost", &format!("sslmode={mode} sslrootcert={other}"));
        refused(
            &db,
            &[
                "host=localhost",
                &format!("is not signed by the CA in {other}"),
                &format!("sslmode={mode}"),
                "sslrootcert",
            ],
        );
    }

    // verify-full without roots refuses before connecting, libpq-like.
    let e = server
        .try_database("host=localhost user=domgen sslmode=verify-full", &[])
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("sslmode=verify-full needs root certificates") && e.contains("sslrootcert"),
        "{e}"
    );

    // Allow: plain text first, TLS when the server refuses it.
    let allow = |user: &str| {
        server.database(
            &format!(
                "host=127.0.0.1 user={user} password={PASSWORD} dbname=postgres sslmode=allow"
            ),
            &[],
        )
    };
    assert!(!ssl_in_use(&allow("domgen")).unwrap());
    assert!(ssl_in_use(&allow("tlsonly")).unwrap());
    let plain_only = server.database(
        &format!("host=127.0.0.1 user=tlsonly password={PASSWORD} dbname=postgres sslmode=disable"),
        &[],
    );
    refused(&plain_only, &["host=127.0.0.1", "tlsonly"]);

    // pg_hba.conf wants a client certificate for certuser.
    let cert = server.path("client.crt");
    let key = server.path("client.key");
    let with_cert = server.database(
        &format!(
            "host=localhost user=certuser dbname=postgres sslmode=verify-full sslrootcert={ca} \
             sslcert={cert} sslkey={key}"
        ),
        &[],
    );
    assert!(ssl_in_use(&with_cert).unwrap());
    let without = server.database(
        &format!(
            "host=localhost user=certuser dbname=postgres sslmode=verify-full sslrootcert={ca}"
        ),
        &[],
    );
    refused(
        &without,
        &["host=localhost", "certificate", "sslcert and sslkey"],
    );

    // The environment: PGSSLMODE and PGSSLROOTCERT count as the keys do.
    let env = [("PGSSLMODE", "verify-full"), ("PGSSLROOTCERT", ca.as_str())];
    let from_env = |host: &str| {
        server.database(
            &format!("host={host} user=domgen password={PASSWORD} dbname=postgres"),
            &env,
        )
    };
    assert_eq!(from_env("localhost").ssl_mode(), SslMode::VerifyFull);
    assert!(ssl_in_use(&from_env("localhost")).unwrap());
    refused(
        &from_env("127.0.0.1"),
        &["not valid for the host name 127.0.0.1"],
    );
    // PGSSLCERT and PGSSLKEY too.
    let env_cert = server.database(
        "host=localhost user=certuser dbname=postgres",
        &[
            ("PGSSLMODE", "verify-full"),
            ("PGSSLROOTCERT", ca.as_str()),
            ("PGSSLCERT", cert.as_str()),
            ("PGSSLKEY", key.as_str()),
        ],
    );
    assert!(ssl_in_use(&env_cert).unwrap());

    // libpq's defaults under HOME: ~/.postgresql/root.crt makes require
    // verify (the other CA: refused), postgresql.crt/.key are the client's.
    let home = server.dir.join("home");
    let dot = home.join(".postgresql");
    std::fs::create_dir_all(&dot).unwrap();
    std::fs::copy(&other, dot.join("root.crt")).unwrap();
    std::fs::copy(&cert, dot.join("postgresql.crt")).unwrap();
    std::fs::copy(&key, dot.join("postgresql.key")).unwrap();
    let home_env = [("HOME", home.to_str().unwrap())];
    let default_root = server.database(
        "host=localhost user=certuser dbname=postgres sslmode=require",
        &home_env,
    );
    refused(
        &default_root,
        &[
            "is not signed by the CA in",
            "root.crt exists, as libpq does",
        ],
    );
    std::fs::copy(&ca, dot.join("root.crt")).unwrap();
    let default_files = server.database(
        "host=localhost user=certuser dbname=postgres sslmode=verify-full",
        &home_env,
    );
    assert!(ssl_in_use(&default_files).unwrap());

    // .pgpass through PGPASSFILE, only when no password is given, and only
    // when others cannot read it.
    let pgpass = server.dir.join("pgpass");
    std::fs::write(
        &pgpass,
        format!(
            "# test\nother:*:*:*:nope\n127.0.0.1:{}:postgres:domgen:{PASSWORD}\n",
            server.port
        ),
    )
    .unwrap();
    std::fs::set_permissions(&pgpass, std::fs::Permissions::from_mode(0o600)).unwrap();
    let pass_env = [("PGPASSFILE", pgpass.to_str().unwrap())];
    let no_password = "host=127.0.0.1 user=domgen dbname=postgres sslmode=require";
    assert!(ssl_in_use(&server.database(no_password, &pass_env)).unwrap());
    std::fs::set_permissions(&pgpass, std::fs::Permissions::from_mode(0o644)).unwrap();
    refused(
        &server.database(no_password, &pass_env),
        &["host=127.0.0.1", "password", "chmod 0600"],
    );
}
