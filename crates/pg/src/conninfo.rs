//! libpq's connection strings, environment and password file, read as
//! libpq reads them.
//!
//! tokio-postgres's `Config` parses both forms of a connection string but
//! knows only part of libpq's keys. This module takes libpq's other keys
//! (`sslmode` beyond `require`, `sslrootcert`, `sslcert`, `sslkey`,
//! `passfile`, and `connect_timeout` and `tcp_user_timeout` with libpq's
//! units) out of the string, hands the rest to `Config`, and fills in
//! what the string leaves unset from the `PG*` variables and `.pgpass`.

use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::time::Duration;

use tokio_postgres::Config;
use tokio_postgres::config::Host;

use crate::error::Error;
use crate::tls::{Roots, SslMode, TlsSettings};

/// Connection defaults for a production server, where libpq has none or
/// the operating system's (hours): a bounded connect, and dead peers
/// noticed within about a minute.
pub(crate) const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
pub(crate) const KEEPALIVES_IDLE: Duration = Duration::from_secs(30);
pub(crate) const KEEPALIVES_INTERVAL: Duration = Duration::from_secs(10);
pub(crate) const KEEPALIVES_RETRIES: u32 = 3;
pub(crate) const TCP_USER_TIMEOUT: Duration = Duration::from_secs(60);

/// A connection string read: tokio-postgres's part, the TLS settings, and
/// why a password file was passed over, if it was.
#[derive(Debug)]
pub(crate) struct ConnInfo {
    pub(crate) config: Config,
    pub(crate) tls: TlsSettings,
    pub(crate) pgpass_ignored: Option<String>,
}

/// The keys this module takes out of a string; tokio-postgres reads the
/// others (and refuses those it does not know).
const OURS: [&str; 8] = [
    "sslmode",
    "sslrootcert",
    "sslcert",
    "sslkey",
    "passfile",
    "connect_timeout",
    "tcp_user_timeout",
    "ssl",
];

/// A string split: the keys taken out (decoded), the rest for `Config`,
/// and every key the string gave.
#[derive(Debug, Default, PartialEq)]
struct Split {
    ours: Vec<(String, String)>,
    rest: String,
    given: HashSet<String>,
}

impl Split {
    fn get(&self, key: &str) -> Option<&str> {
        // libpq: the last of a repeated key counts.
        self.ours
            .iter()
            .rev()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }
}

/// Reads `s` (key=value or a `postgres://` URL) as libpq does, taking what
/// it leaves unset from `env` (libpq's `PG*` variables, `HOME`, `USER`).
pub(crate) fn parse(s: &str, env: &dyn Fn(&str) -> Option<String>) -> Result<ConnInfo, Error> {
    let env = |name: &str| env(name).filter(|v| !v.is_empty());
    let split = split(s)?;
    let mut config: Config = split.rest.parse().map_err(|e: tokio_postgres::Error| {
        let why = std::error::Error::source(&e).map_or_else(String::new, |s| format!(": {s}"));
        Error::usage(format!("the connection string is not valid{why}")).because(e)
    })?;

    if config.get_hosts().is_empty() && config.get_hostaddrs().is_empty() {
        for host in env("PGHOST").as_deref().unwrap_or("localhost").split(',') {
            config.host(host);
        }
    }
    if config.get_ports().is_empty() {
        if let Some(ports) = env("PGPORT") {
            for port in ports.split(',') {
                config.port(
                    port.trim().parse().map_err(|_| {
                        Error::usage(format!("PGPORT `{ports}` is not a port number"))
                    })?,
                );
            }
        }
    }
    let user = match config.get_user() {
        Some(user) => user.to_owned(),
        None => env("PGUSER")
            .or_else(|| env("USER"))
            .unwrap_or_else(|| "postgres".into()),
    };
    config.user(&user);
    if config.get_dbname().is_none() {
        config.dbname(env("PGDATABASE").as_deref().unwrap_or(&user));
    }

    let home = env("HOME").map(PathBuf::from);
    let mut pgpass_ignored = None;
    if config.get_password().is_none() {
        if let Some(password) = env("PGPASSWORD") {
            config.password(password);
        } else {
            let file = split
                .get("passfile")
                .map(PathBuf::from)
                .or_else(|| env("PGPASSFILE").map(PathBuf::from))
                .or_else(|| home.as_ref().map(|h| h.join(".pgpass")));
            if let Some(file) = file {
                match read_pgpass(&file) {
                    Ok(Some(text)) => {
                        if let Some(password) = pgpass_lookup(&text, &pgpass_key(&config)) {
                            config.password(password);
                        }
                    }
                    Ok(None) => {}
                    Err(why) => pgpass_ignored = Some(why),
                }
            }
        }
    }

    let timeout = match split.get("connect_timeout") {
        Some(t) => Some(("connect_timeout", t.to_owned())),
        None => env("PGCONNECT_TIMEOUT").map(|t| ("PGCONNECT_TIMEOUT", t)),
    };
    match timeout {
        // libpq: zero or less waits for ever; the least wait is 2 s.
        Some((name, t)) => {
            let seconds: i64 = t.trim().parse().map_err(|_| {
                Error::usage(format!("{name} `{t}` is not a whole number of seconds"))
            })?;
            if let Ok(seconds) = u64::try_from(seconds) {
                if seconds > 0 {
                    config.connect_timeout(Duration::from_secs(seconds.max(2)));
                }
            }
        }
        None => {
            config.connect_timeout(CONNECT_TIMEOUT);
        }
    }
    match split.get("tcp_user_timeout") {
        // libpq's unit is the millisecond (tokio-postgres reads seconds);
        // zero is the system's default.
        Some(t) => {
            let ms: i64 = t.trim().parse().map_err(|_| {
                Error::usage(format!(
                    "tcp_user_timeout `{t}` is not a whole number of milliseconds"
                ))
            })?;
            if let Ok(ms) = u64::try_from(ms) {
                if ms > 0 {
                    config.tcp_user_timeout(Duration::from_millis(ms));
                }
            }
        }
        None => {
            config.tcp_user_timeout(TCP_USER_TIMEOUT);
        }
    }
    if !split.given.contains("keepalives_idle") {
        config.keepalives_idle(KEEPALIVES_IDLE);
    }
    if !split.given.contains("keepalives_interval") {
        config.keepalives_interval(KEEPALIVES_INTERVAL);
    }
    if !split.given.contains("keepalives_retries") {
        config.keepalives_retries(KEEPALIVES_RETRIES);
    }

    let tls = tls_settings(&split, &env, home.as_deref())?;
    // tokio-postgres's own mode for its first attempt; connect() adds the
    // rest of libpq's ladder.
    config.ssl_mode(match tls.mode {
        SslMode::Disable | SslMode::Allow => tokio_postgres::config::SslMode::Disable,
        SslMode::Prefer => tokio_postgres::config::SslMode::Prefer,
        _ => tokio_postgres::config::SslMode::Require,
    });
    Ok(ConnInfo {
        config,
        tls,
        pgpass_ignored,
    })
}

fn tls_settings(
    split: &Split,
    env: &dyn Fn(&str) -> Option<String>,
    home: Option<&Path>,
) -> Result<TlsSettings, Error> {
    let given = |key: &str, var: &str| split.get(key).map(str::to_owned).or_else(|| env(var));
    let mode = match split.get("sslmode").map(str::to_owned).or_else(|| {
        // libpq's URL form also takes JDBC's ssl=true.
        (split.get("ssl") == Some("true")).then(|| "require".to_owned())
    }) {
        Some(mode) => Some(mode.parse::<SslMode>()?),
        None => env("PGSSLMODE").map(|m| m.parse::<SslMode>()).transpose()?,
    };
    let postgresql = home.map(|h| h.join(".postgresql"));
    let roots = match given("sslrootcert", "PGSSLROOTCERT") {
        Some(system) if system == "system" => Some(Roots::System),
        Some(path) => {
            let path = PathBuf::from(path);
            if !path.is_file() {
                return Err(Error::usage(format!(
                    "the root certificate file {} (sslrootcert) does not exist; give the CA's \
                     certificate, or use sslrootcert=system for the system's trusted CAs",
                    path.display()
                )));
            }
            Some(Roots::File {
                path,
                default: false,
            })
        }
        None => postgresql
            .as_ref()
            .map(|d| d.join("root.crt"))
            .filter(|p| p.is_file())
            .map(|path| Roots::File {
                path,
                default: true,
            }),
    };
    // libpq: the system's CAs vouch for any name, so only verify-full may
    // use them.
    let mode = match (mode, &roots) {
        (None, Some(Roots::System)) => SslMode::VerifyFull,
        (Some(mode), Some(Roots::System)) if mode < SslMode::VerifyFull => {
            return Err(Error::usage(format!(
                "sslmode={mode} may not be used with sslrootcert=system, whose CAs vouch for \
                 any host name; use sslmode=verify-full"
            )));
        }
        (mode, _) => mode.unwrap_or(SslMode::Prefer),
    };
    let cert = given("sslcert", "PGSSLCERT").map(PathBuf::from);
    let key = given("sslkey", "PGSSLKEY").map(PathBuf::from);
    let client = match (cert, key) {
        (None, None) => {
            // libpq's defaults, used when both are there.
            let cert = postgresql.as_ref().map(|d| d.join("postgresql.crt"));
            let key = postgresql.as_ref().map(|d| d.join("postgresql.key"));
            cert.zip(key).filter(|(c, k)| c.is_file() && k.is_file())
        }
        (Some(cert), key) => {
            let key = key
                .or_else(|| postgresql.as_ref().map(|d| d.join("postgresql.key")))
                .ok_or_else(|| {
                    Error::usage(format!(
                        "sslcert {} is given without sslkey: give the client certificate's key too",
                        cert.display()
                    ))
                })?;
            for (path, what) in [
                (&cert, "client certificate (sslcert)"),
                (&key, "client key (sslkey)"),
            ] {
                if !path.is_file() {
                    return Err(Error::usage(format!(
                        "the {what} {} does not exist",
                        path.display()
                    )));
                }
            }
            Some((cert, key))
        }
        (None, Some(key)) => {
            return Err(Error::usage(format!(
                "sslkey {} is given without sslcert: give the client certificate too",
                key.display()
            )));
        }
    };
    Ok(TlsSettings {
        mode,
        roots,
        client,
    })
}

/// Takes [`OURS`] out of `s`, in either form.
fn split(s: &str) -> Result<Split, Error> {
    let url = ["postgresql://", "postgres://"]
        .iter()
        .find_map(|prefix| s.strip_prefix(prefix).map(|rest| (prefix, rest)));
    match url {
        Some((prefix, rest)) => split_url(prefix, rest),
        None => split_key_value(s),
    }
}

fn split_url(prefix: &str, rest: &str) -> Result<Split, Error> {
    let mut split = Split::default();
    let (base, query) = match rest.split_once('?') {
        Some((base, query)) => (base, Some(query)),
        None => (rest, None),
    };
    let mut kept = Vec::new();
    for param in query.into_iter().flat_map(|q| q.split('&')) {
        if param.is_empty() {
            continue;
        }
        let (key, value) = param.split_once('=').ok_or_else(|| {
            Error::usage(format!(
                "the URL's query parameter `{param}` has no `=` (key=value)"
            ))
        })?;
        let key_decoded = percent_decode(key)?;
        split.given.insert(key_decoded.clone());
        if OURS.contains(&key_decoded.as_str()) {
            split.ours.push((key_decoded, percent_decode(value)?));
        } else {
            kept.push(param);
        }
    }
    split.rest = format!("{prefix}{base}");
    if !kept.is_empty() {
        split.rest.push('?');
        split.rest.push_str(&kept.join("&"));
    }
    Ok(split)
}

fn percent_decode(s: &str) -> Result<String, Error> {
    let bad = || Error::usage(format!("the URL's `{s}` has a bad %-escape"));
    let mut bytes = Vec::with_capacity(s.len());
    let mut input = s.bytes();
    while let Some(b) = input.next() {
        if b == b'%' {
            let hex = [input.next().ok_or_else(bad)?, input.next().ok_or_else(bad)?];
            let hex = std::str::from_utf8(&hex).map_err(|_| bad())?;
            bytes.push(u8::from_str_radix(hex, 16).map_err(|_| bad())?);
        } else {
            bytes.push(b);
        }
    }
    String::from_utf8(bytes).map_err(|_| bad())
}

/// libpq's key=value form: `key = value` pairs apart by white space, a
/// value in single quotes or not, `\` escaping the next character.
fn split_key_value(s: &str) -> Result<Split, Error> {
    let mut split = Split::default();
    let mut kept = Vec::new();
    let mut chars = s.chars().peekable();
    loop {
        while chars.next_if(|c| c.is_whitespace()).is_some() {}
        if chars.peek().is_none() {
            break;
        }
        let mut key = String::new();
        while let Some(c) = chars.next_if(|c| !c.is_whitespace() && *c != '=') {
            key.push(c);
        }
        while chars.next_if(|c| c.is_whitespace()).is_some() {}
        if chars.next() != Some('=') {
            return Err(Error::usage(format!(
                "the connection string has no `=` after `{key}` (key=value)"
            )));
        }
        while chars.next_if(|c| c.is_whitespace()).is_some() {}
        let mut value = String::new();
        if chars.next_if_eq(&'\'').is_some() {
            loop {
                match chars.next() {
                    Some('\'') => break,
                    Some('\\') => value.extend(chars.next()),
                    Some(c) => value.push(c),
                    None => {
                        return Err(Error::usage(format!(
                            "the connection string's value for `{key}` has no closing quote"
                        )));
                    }
                }
            }
        } else {
            while let Some(c) = chars.next_if(|c| !c.is_whitespace()) {
                if c == '\\' {
                    value.extend(chars.next());
                } else {
                    value.push(c);
                }
            }
        }
        split.given.insert(key.clone());
        if OURS.contains(&key.as_str()) {
            split.ours.push((key, value));
        } else {
            let quoted = value.replace('\\', "\\\\").replace('\'', "\\'");
            kept.push(format!("{key}='{quoted}'"));
        }
    }
    split.rest = kept.join(" ");
    Ok(split)
}

/// What a `.pgpass` line is matched against: host, port, database, user.
fn pgpass_key(config: &Config) -> [String; 4] {
    let host = match config.get_hosts().first() {
        Some(Host::Tcp(host)) => host.clone(),
        // libpq names a socket connection `localhost`.
        Some(Host::Unix(_)) => "localhost".to_owned(),
        None => config
            .get_hostaddrs()
            .first()
            .map_or_else(|| "localhost".to_owned(), ToString::to_string),
    };
    let port = config.get_ports().first().copied().unwrap_or(5432);
    [
        host,
        port.to_string(),
        config.get_dbname().unwrap_or_default().to_owned(),
        config.get_user().unwrap_or_default().to_owned(),
    ]
}

/// The password file's text; `Ok(None)` when there is none, `Err(why)`
/// when libpq would pass it over (not a plain file, or readable by others).
fn read_pgpass(file: &Path) -> Result<Option<String>, String> {
    let Ok(meta) = std::fs::metadata(file) else {
        return Ok(None);
    };
    if !meta.is_file() {
        return Err(format!("{} is not a plain file", file.display()));
    }
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        if meta.permissions().mode() & 0o077 != 0 {
            return Err(format!(
                "the password file {} was ignored, as libpq ignores it, because group or others \
                 may read it; chmod 0600 it",
                file.display()
            ));
        }
    }
    Ok(std::fs::read_to_string(file).ok())
}

/// The password of the first line of a `.pgpass` text that matches `key`
/// (host, port, database, user): `*` matches anything, `\` escapes `:` and
/// `\`, lines starting with `#` are comments.
fn pgpass_lookup(text: &str, key: &[String; 4]) -> Option<String> {
    'lines: for line in text.lines() {
        if line.starts_with('#') {
            continue;
        }
        let mut chars = line.chars();
        for wanted in key {
            let mut field = String::new();
            let mut escaped_any = false;
            loop {
                match chars.next() {
                    Some(':') => break,
                    Some('\\') => {
                        escaped_any = true;
                        field.extend(chars.next());
                    }
                    Some(c) => field.push(c),
                    None => continue 'lines,
                }
            }
            let star = field == "*" && !escaped_any;
            if !star && field != *wanted {
                continue 'lines;
            }
        }
        let mut password = String::new();
        while let Some(c) = chars.next() {
            match c {
                ':' => break,
                '\\' => password.extend(chars.next()),
                c => password.push(c),
            }
        }
        return Some(password);
    }
    None
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use super::*;

    fn env_of(vars: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
        let vars: HashMap<String, String> = vars
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        move |name| vars.get(name).cloned()
    }

    fn parse_in(s: &str, vars: &[(&str, &str)]) -> Result<ConnInfo, Error> {
        parse(s, &env_of(vars))
    }

    #[test]
    fn key_value_keeps_tokio_keys_and_takes_libpq_ones() {
        let split = split_key_value(
            "host=db.example port = 6432 sslmode=verify-full sslrootcert='/etc/my ca.pem' \
             password='it\\'s \\\\ here' keepalives_idle=5",
        )
        .unwrap();
        assert_eq!(split.get("sslmode"), Some("verify-full"));
        assert_eq!(split.get("sslrootcert"), Some("/etc/my ca.pem"));
        assert!(split.given.contains("keepalives_idle"));
        let config: Config = split.rest.parse().unwrap();
        assert_eq!(config.get_password(), Some(&b"it's \\ here"[..]));
        assert_eq!(config.get_ports(), &[6432]);
    }

    #[test]
    fn unquoted_values_take_backslash_escapes() {
        let split = split_key_value(r"sslcert=/a\ b.crt user=x").unwrap();
        assert_eq!(split.get("sslcert"), Some("/a b.crt"));
    }

    #[test]
    fn key_value_errors_name_the_key() {
        let e = split_key_value("host=x user").unwrap_err().to_string();
        assert!(e.contains("`user`"), "{e}");
        let e = split_key_value("password='open").unwrap_err().to_string();
        assert!(e.contains("`password`") && e.contains("quote"), "{e}");
    }

    #[test]
    fn url_takes_libpq_params_and_keeps_the_rest() {
        let split = split(
            "postgresql://u:p%40ss@db.example:6432/app?sslmode=verify-full&sslrootcert=%2Fx%20y.pem&application_name=gen",
        )
        .unwrap();
        assert_eq!(split.get("sslmode"), Some("verify-full"));
        assert_eq!(split.get("sslrootcert"), Some("/x y.pem"));
        assert_eq!(
            split.rest,
            "postgresql://u:p%40ss@db.example:6432/app?application_name=gen"
        );
        let config: Config = split.rest.parse().unwrap();
        assert_eq!(config.get_password(), Some(&b"p@ss"[..]));
        assert_eq!(config.get_application_name(), Some("gen"));
        let bare = super::split("postgres://h/db?sslmode=require").unwrap();
        assert_eq!(bare.rest, "postgres://h/db");
    }

    #[test]
    fn unknown_keys_are_refused_by_name() {
        for s in ["host=x frobnicate=1", "postgresql://x/db?frobnicate=1"] {
            let e = parse_in(s, &[]).unwrap_err().to_string();
            assert!(e.contains("frobnicate"), "{s}: {e}");
        }
        let e = parse_in("host=x sslmode=verify_full", &[])
            .unwrap_err()
            .to_string();
        assert!(e.contains("verify_full"), "{e}");
    }

    #[test]
    fn environment_fills_what_the_string_leaves_unset() {
        let vars = [
            ("PGHOST", "envhost"),
            ("PGPORT", "6543"),
            ("PGUSER", "envuser"),
            ("PGSSLMODE", "require"),
            ("PGCONNECT_TIMEOUT", "1"),
        ];
        let info = parse_in("", &vars).unwrap();
        assert_eq!(info.config.get_hosts(), &[Host::Tcp("envhost".into())]);
        assert_eq!(info.config.get_ports(), &[6543]);
        assert_eq!(info.config.get_user(), Some("envuser"));
        assert_eq!(info.config.get_dbname(), Some("envuser"));
        assert_eq!(info.tls.mode, SslMode::Require);
        // libpq's least timeout.
        assert_eq!(
            info.config.get_connect_timeout(),
            Some(&Duration::from_secs(2))
        );
        let info = parse_in("host=h user=u sslmode=disable connect_timeout=0", &vars).unwrap();
        assert_eq!(info.config.get_hosts(), &[Host::Tcp("h".into())]);
        assert_eq!(info.tls.mode, SslMode::Disable);
        assert_eq!(info.config.get_connect_timeout(), None);
    }

    #[test]
    fn production_defaults_unless_given() {
        let info = parse_in("host=h user=u", &[]).unwrap();
        assert_eq!(info.tls.mode, SslMode::Prefer);
        assert_eq!(info.config.get_connect_timeout(), Some(&CONNECT_TIMEOUT));
        assert_eq!(info.config.get_tcp_user_timeout(), Some(&TCP_USER_TIMEOUT));
        assert_eq!(info.config.get_keepalives_idle(), KEEPALIVES_IDLE);
        assert_eq!(
            info.config.get_keepalives_interval(),
            Some(KEEPALIVES_INTERVAL)
        );
        assert_eq!(
            info.config.get_keepalives_retries(),
            Some(KEEPALIVES_RETRIES)
        );
        let info = parse_in("host=h user=u keepalives_idle=7 tcp_user_timeout=1500", &[]).unwrap();
        assert_eq!(info.config.get_keepalives_idle(), Duration::from_secs(7));
        assert_eq!(
            info.config.get_tcp_user_timeout(),
            Some(&Duration::from_millis(1500))
        );
    }

    #[test]
    fn verify_modes_need_roots_and_system_roots_need_verify_full() {
        // Settings only here; Tls::new is where a missing root refuses.
        let info = parse_in("host=h user=u sslrootcert=system", &[]).unwrap();
        assert_eq!(info.tls.mode, SslMode::VerifyFull);
        assert_eq!(info.tls.roots, Some(Roots::System));
        let e = parse_in("host=h user=u sslrootcert=system sslmode=require", &[])
            .unwrap_err()
            .to_string();
        assert!(e.contains("verify-full"), "{e}");
        let e = parse_in("host=h user=u sslrootcert=/nonexistent/ca.pem", &[])
            .unwrap_err()
            .to_string();
        assert!(e.contains("/nonexistent/ca.pem"), "{e}");
    }

    fn key(host: &str, port: &str, db: &str, user: &str) -> [String; 4] {
        [host.into(), port.into(), db.into(), user.into()]
    }

    #[test]
    fn pgpass_matches_as_libpq() {
        let text = "# comment\n\
                    db.example:5432:app:alice:first\n\
                    *:*:app:bob:b\\:ob\\\\pw\n\
                    h\\:x:5432:*:*:escaped-host\n\
                    *:*:*:*:fallback\n";
        assert_eq!(
            pgpass_lookup(text, &key("db.example", "5432", "app", "alice")),
            Some("first".into())
        );
        assert_eq!(
            pgpass_lookup(text, &key("anywhere", "1", "app", "bob")),
            Some("b:ob\\pw".into())
        );
        assert_eq!(
            pgpass_lookup(text, &key("h:x", "5432", "d", "u")),
            Some("escaped-host".into())
        );
        // The first match wins, so the wildcard line comes last.
        assert_eq!(
            pgpass_lookup(text, &key("db.example", "5433", "app", "alice")),
            Some("fallback".into())
        );
        assert_eq!(pgpass_lookup("a:1:d:u:pw", &key("a", "1", "d", "v")), None);
        // A line with too few fields matches nothing.
        assert_eq!(pgpass_lookup("a:1:d", &key("a", "1", "d", "u")), None);
    }

    #[test]
    fn pgpass_is_used_only_without_a_password_and_only_when_private() {
        let dir = std::env::temp_dir().join(format!("domgen-pgpass-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let file = dir.join("pgpass");
        std::fs::write(&file, "h:5432:d:u:from-file\n").unwrap();
        let vars = [("PGPASSFILE", file.to_str().unwrap())];
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o600)).unwrap();
        let info = parse_in("host=h dbname=d user=u", &vars).unwrap();
        assert_eq!(info.config.get_password(), Some(&b"from-file"[..]));
        let info = parse_in("host=h dbname=d user=u password=given", &vars).unwrap();
        assert_eq!(info.config.get_password(), Some(&b"given"[..]));
        let info = parse_in(
            &format!("host=h dbname=d user=u passfile={}", file.display()),
            &[],
        )
        .unwrap();
        assert_eq!(info.config.get_password(), Some(&b"from-file"[..]));

        std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o644)).unwrap();
        let info = parse_in("host=h dbname=d user=u", &vars).unwrap();
        assert_eq!(info.config.get_password(), None);
        let why = info.pgpass_ignored.unwrap();
        assert!(why.contains("chmod 0600"), "{why}");
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
