//! Issue 5, HTTPS: a real TLS server on loopback (nginx with a certificate from a throwaway CA made by
//! `openssl` in the test). `CaFile` makes the client trust that CA; without it the connection is
//! refused with a message that names the certificate problem, and the installed version starts. The
//! system trust store is used by default: rustls-native-certs reads it, and honours `SSL_CERT_FILE`,
//! which stands in for "the CA was installed on the machine" without root.

use crate::common::{self, site, Site};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

/// A CA and a server certificate for `127.0.0.1` (subjectAltName IP:127.0.0.1) that it signed.
pub struct Pki {
    pub ca: PathBuf,
    pub cert: PathBuf,
    pub key: PathBuf,
}

fn openssl(dir: &Path, args: &[&str]) {
    let out = Command::new("openssl")
        .args(args)
        .current_dir(dir)
        .stdin(Stdio::null())
        .output()
        .expect("run openssl");
    assert!(
        out.status.success(),
        "openssl {args:?} failed:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Makes the CA and the server certificate in `dir` (EC P-256 keys: quick to make, and rustls takes them).
pub fn make_pki(dir: &Path) -> Pki {
    std::fs::create_dir_all(dir).unwrap();
    let ec = [
        "-newkey",
        "ec",
        "-pkeyopt",
        "ec_paramgen_curve:prime256v1",
        "-nodes",
    ];
    let mut ca_args = vec!["req", "-x509"];
    ca_args.extend(ec);
    ca_args.extend([
        "-keyout",
        "ca.key",
        "-out",
        "ca.pem",
        "-days",
        "2",
        "-subj",
        "/CN=launcher test CA",
        "-addext",
        "basicConstraints=critical,CA:TRUE",
        "-addext",
        "keyUsage=critical,keyCertSign,cRLSign",
    ]);
    openssl(dir, &ca_args);
    let mut csr_args = vec!["req"];
    csr_args.extend(ec);
    csr_args.extend([
        "-keyout",
        "server.key",
        "-out",
        "server.csr",
        "-subj",
        "/CN=127.0.0.1",
    ]);
    openssl(dir, &csr_args);
    common::write(
        &dir.join("server.ext"),
        "subjectAltName = IP:127.0.0.1\nbasicConstraints = CA:FALSE\nkeyUsage = critical,digitalSignature\nextendedKeyUsage = serverAuth\n",
    );
    openssl(
        dir,
        &[
            "x509",
            "-req",
            "-in",
            "server.csr",
            "-CA",
            "ca.pem",
            "-CAkey",
            "ca.key",
            "-CAcreateserial",
            "-out",
            "server.pem",
            "-days",
            "2",
            "-extfile",
            "server.ext",
        ],
    );
    Pki {
        ca: dir.join("ca.pem"),
        cert: dir.join("server.pem"),
        key: dir.join("server.key"),
    }
}

/// nginx serving `root` over TLS on a loopback port, with every file it writes inside `dir`.
pub struct TlsServer {
    nginx: common::Nginx,
    pub port: u16,
}

impl TlsServer {
    pub fn start(dir: &Path, root: &Path, pki: &Pki) -> TlsServer {
        let directives = format!(
            "        ssl_certificate \"{}\";\n        ssl_certificate_key \"{}\";\n        root \"{}\";\n        autoindex off;",
            pki.cert.display(),
            pki.key.display(),
            root.display()
        );
        let nginx = common::Nginx::start(dir, " ssl", &directives);
        let port = nginx.port;
        TlsServer { nginx, port }
    }

    pub fn url(&self) -> String {
        format!("https://127.0.0.1:{}/", self.port)
    }

    /// The requests nginx has logged (`GET /path HTTP/1.1" STATUS`).
    pub fn access_log(&self) -> String {
        self.nginx.access_log()
    }
}

/// True when the tools the TLS tests need are here (or, in CI, panics when one is missing).
pub fn tls_tools() -> bool {
    common::require("nginx") && common::require("openssl")
}

/// A site with 1.0 published and a TLS server for its repository.
fn tls_site() -> (Site, Pki, TlsServer) {
    let s = site();
    let pki = make_pki(&s.root.join("pki"));
    s.publish("1.0", &[]);
    let server = TlsServer::start(&s.root.join("nginx"), &s.repo, &pki);
    (s, pki, server)
}

/// What rustls says about a certificate from an unknown CA (the message must name the problem).
const UNKNOWN_ISSUER: &str = "invalid peer certificate: UnknownIssuer";

#[test]
fn https_with_a_private_ca_needs_ca_file_and_an_untrusted_server_is_refused_by_name() {
    if !tls_tools() {
        return;
    }
    let (s, pki, server) = tls_site();
    // Nothing installed, and the CA is not trusted: nothing can be installed, and the reason is given.
    s.config(&server.url(), "");
    s.launcher(&[]).code_is(4).stderr_has(UNKNOWN_ISSUER);
    s.launcher(&["check"]).failure().stderr_has(UNKNOWN_ISSUER);

    // With `CaFile`, the install goes over TLS.
    s.config(&server.url(), &format!("CaFile = {}", pki.ca.display()));
    let run = s.launcher(&[]).success();
    s.assert_launched(&run, "1.0");
    assert!(
        server.access_log().contains("GET /demo/channels/stable/"),
        "{}",
        server.access_log()
    );

    // 2.0 appears, but the machine no longer trusts the CA: the update is refused and 1.0 starts.
    s.publish("2.0", &[]);
    s.config(&server.url(), "");
    let before = common::app_snapshot(&s.app);
    let run = s.launcher(&[]).success().stderr_has(UNKNOWN_ISSUER);
    s.assert_launched(&run, "1.0");
    common::assert_app_unchanged(&run, &s.app, &before);

    // The right CA, but the certificate does not name the host asked for (`localhost`).
    s.config(
        &format!("https://localhost:{}/", server.port),
        &format!("CaFile = {}", pki.ca.display()),
    );
    let run = s
        .launcher(&[])
        .success()
        .stderr_has("certificate not valid for name \"localhost\"");
    s.assert_launched(&run, "1.0");

    // The system trust store is used without `CaFile`: a CA "installed on the machine" (here through
    // `SSL_CERT_FILE`, which rustls-native-certs reads in place of the system bundle) is trusted.
    s.config(&server.url(), "");
    let mut c = s.command(&[]);
    c.env("SSL_CERT_FILE", &pki.ca);
    let run = common::run(c, Some(&s.app)).success();
    s.assert_launched(&run, "2.0");
}

#[test]
fn a_ca_file_that_is_not_a_certificate_is_named_in_the_error() {
    let s = site();
    let bad = s.root.join("not-a-ca.pem");
    common::write(&bad, "this is not PEM\n");
    s.config(
        "https://127.0.0.1:9/",
        &format!("CaFile = {}", bad.display()),
    );
    s.launcher(&[]).failure().stderr_has("not-a-ca.pem");
    s.config(
        "https://127.0.0.1:9/",
        &format!("CaFile = {}", s.root.join("missing.pem").display()),
    );
    s.launcher(&[]).failure().stderr_has("cannot read CaFile");
}
