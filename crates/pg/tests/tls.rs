//! TLS and passwords over TCP: a server of the test's own with ssl=on and
//! scram-sha-256 for TCP connections.

use std::path::{Path, PathBuf};
use std::process::Command;

use tokio_postgres::Config;

/// A throwaway server listening on 127.0.0.1 with TLS and a password.
struct Server {
    dir: PathBuf,
    port: u16,
    user: Option<&'static str>,
    bin: PathBuf,
}

const PASSWORD: &str = "s3cret-pw";

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

impl Server {
    fn start() -> Server {
        let dir = PathBuf::from(format!("/tmp/domgen-tls-{}", std::process::id()));
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
        run(Command::new("openssl")
            .args([
                "req",
                "-x509",
                "-newkey",
                "rsa:2048",
                "-nodes",
                "-days",
                "1",
                "-subj",
                "/CN=localhost",
                "-keyout",
            ])
            .arg(d.join("server.key"))
            .arg("-out")
            .arg(d.join("server.crt")));
        std::fs::write(d.join("pw"), PASSWORD).unwrap();
        if let Some(user) = user {
            run(Command::new("chown").args(["-R", user]).arg(d));
        }
        run(Command::new("chmod").arg("600").arg(d.join("server.key")));
        server.as_server(&[
            server.bin.join("initdb").to_str().unwrap(),
            "-D",
            d.join("data").to_str().unwrap(),
            "-U",
            "domgen",
            "--auth-local=trust",
            "--auth-host=scram-sha-256",
            "--pwfile",
            d.join("pw").to_str().unwrap(),
        ]);
        let options = format!(
            "-c listen_addresses=127.0.0.1 -c port={port} -c unix_socket_directories={} -c ssl=on -c ssl_cert_file={} -c ssl_key_file={}",
            d.display(),
            d.join("server.crt").display(),
            d.join("server.key").display()
        );
        server.as_server(&[
            server.bin.join("pg_ctl").to_str().unwrap(),
            "-D",
            d.join("data").to_str().unwrap(),
            "-l",
            d.join("log").to_str().unwrap(),
            "-o",
            &options,
            "-w",
            "start",
        ]);
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

    fn config(&self, password: &str, sslmode: &str) -> Config {
        format!("host=127.0.0.1 port={} user=domgen password={password} dbname=postgres sslmode={sslmode}", self.port)
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

async fn ssl_in_use(config: &Config) -> Result<bool, tokio_postgres::Error> {
    let (client, _task) = domgen_pg::connect(config).await?;
    let row = client
        .query_one(
            "SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()",
            &[],
        )
        .await?;
    Ok(row.get(0))
}

#[test]
fn sslmode_require_encrypts_and_passwords_stay_out_of_errors() {
    let server = Server::start();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        assert!(
            ssl_in_use(&server.config(PASSWORD, "require"))
                .await
                .unwrap()
        );
        assert!(
            ssl_in_use(&server.config(PASSWORD, "prefer"))
                .await
                .unwrap()
        );
        assert!(
            !ssl_in_use(&server.config(PASSWORD, "disable"))
                .await
                .unwrap()
        );
        let err = ssl_in_use(&server.config("wrong-pw-123", "require"))
            .await
            .unwrap_err();
        let shown = domgen_pg::Error::from(err).to_string();
        assert!(shown.contains("password authentication failed"), "{shown}");
        assert!(
            !shown.contains("wrong-pw-123") && !shown.contains(PASSWORD),
            "{shown}"
        );
    });
}
