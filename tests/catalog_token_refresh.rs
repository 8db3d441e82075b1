//! Long jobs and secrets kept off the command line, on the real `floe serve --auth FILE`:
//! a writer with client credentials commits checkpoints for longer than its 2-second
//! tokens last (refreshed before they expire, one refresh for many concurrent requests);
//! a token the catalog stops accepting (its signing key rotated) is replaced and the
//! refused request, a commit with its body, sent once more; a static token that expires or
//! is revoked gets an error that says so; and `--token`, `--credential` and their
//! environment variables read `@FILE`.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use floe_client::{error_chain, Connection, RestClient, RestError};
use floe_test_support::auth_api::{write_auth_file, Principal};
use floe_test_support::changes::Rng;
use floe_test_support::cli::{floe_command, Run};
use floe_test_support::upsert_cli::upsert_args;
use floe_test_support::upsert_model::*;
use floe_test_support::{fixture_path, list_files, FloeServer, Serve};
use iceberg::TableIdent;

const CREDENTIAL: &str = "writer:writer-secret";
const ADMIN_TOKEN: &str = "static-admin-token";
const KEYS: [&str; 3] = [
    "0123456789abcdef0123456789abcdef-first",
    "0123456789abcdef0123456789abcdef-second",
    "0123456789abcdef0123456789abcdef-third",
];
const TOKEN_ROUTE: &str = "route=\"/v1/oauth/tokens\"";
const TABLE_ROUTE: &str = "route=\"/v1/namespaces/{namespace}/tables/{table}\"";

/// `floe serve --auth` on `dirs` with tokens valid `ttl` seconds signed with `key`,
/// listening on `bind`: client `writer` and the static token `admin` may do everything.
fn serve(dirs: &Path, ttl: u64, key: &str, bind: &str) -> FloeServer {
    let auth_file = dirs.join("auth.toml");
    let everything = r#"[{ namespace = "", access = "read-write" }]"#;
    write_auth_file(
        &auth_file,
        key,
        Some(ttl),
        &[
            Principal::Client("writer", "writer-secret", everything),
            Principal::Token("admin", ADMIN_TOKEN, everything),
        ],
    );
    Serve::new(dirs.join("warehouse"), &dirs.join("data"))
        .bind(bind)
        .args(&["--auth".to_string(), auth_file.display().to_string()])
        .start()
}

/// A client that authenticates with the writer's credentials.
async fn credential_client(url: &str) -> RestClient {
    let connection = Connection {
        uri: url.to_string(),
        credential: Some(CREDENTIAL.to_string()),
        ..Default::default()
    };
    connection.connect().await.unwrap()
}

/// A client with the static `token`.
async fn token_client(url: &str, token: &str) -> RestClient {
    RestClient::connect_with_token(url, Some(token.to_string()))
        .await
        .unwrap()
}

/// How many requests the server answered with every one of `labels` (`route="..."`,
/// `status="..."`), from its `/metrics`.
async fn answered(url: &str, labels: &[&str]) -> f64 {
    let response = reqwest::Client::new()
        .get(format!("{url}/metrics"))
        .bearer_auth(ADMIN_TOKEN)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let text = response.text().await.unwrap();
    text.lines()
        .filter(|l| l.starts_with("floe_http_requests_total{"))
        .filter(|l| labels.iter().all(|label| l.contains(label)))
        .map(|l| l.rsplit(' ').next().unwrap().parse::<f64>().unwrap())
        .sum()
}

/// Commits `checkpoints` random checkpoints with `writer`, pausing `pause` before each,
/// into `model`.
async fn commit_checkpoints(
    writer: &mut floe_upsert::UpsertWriter,
    model: &mut BTreeMap<i64, Row>,
    checkpoints: std::ops::RangeInclusive<usize>,
    pause: Duration,
) {
    let mut rng = Rng(21 + *checkpoints.start() as u64);
    for checkpoint in checkpoints {
        tokio::time::sleep(pause).await;
        let cp = random_checkpoint(&mut rng, model, 40, 80, checkpoint);
        writer.write(&batch(&cp, 0..cp.ids.len())).await.unwrap();
        committed(writer.commit(Some(checkpoint as i64), None).await.unwrap());
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_credential_outlives_its_two_second_tokens() {
    let dirs = tempfile::tempdir().unwrap();
    let server = serve(dirs.path(), 2, KEYS[0], "127.0.0.1:0");
    let client = credential_client(server.url()).await;
    let ident = create_table(&client, "long", 2).await;
    let mut writer = open_writer(&client, &ident, "w").await;
    let mut model = BTreeMap::new();
    let started = Instant::now();
    commit_checkpoints(&mut writer, &mut model, 1..=5, Duration::from_millis(1100)).await;
    assert!(started.elapsed() > Duration::from_millis(5500));
    let table = client.load_table(&ident).await.unwrap();
    assert_eq!(table.metadata.snapshots().count(), 5);
    assert_eq!(scan(&table).await, model);
    // More than 5 s of 2 s tokens: the first and at least two refreshes, and the catalog
    // never had to refuse one (each was refreshed 0.4 s before the client reckons it
    // expires; the catalog counts whole seconds, so a refusal is possible but rare, and
    // then answered by a retry).
    let tokens = answered(server.url(), &[TOKEN_ROUTE, "status=\"200\""]).await;
    assert!(tokens >= 3.0, "{tokens} tokens");

    // Many requests once the token is due: one refresh before any is sent (none refused),
    // and every request answered.
    tokio::time::sleep(Duration::from_millis(2100)).await;
    let before = answered(server.url(), &[TOKEN_ROUTE]).await;
    let refused_before = answered(server.url(), &["status=\"401\""]).await;
    let loads = (0..12).map(|_| {
        let (client, ident) = (client.clone(), ident.clone());
        tokio::spawn(async move { client.load_table(&ident).await.map(|_| ()) })
    });
    for load in futures::future::join_all(loads).await {
        load.unwrap().unwrap();
    }
    let after = answered(server.url(), &[TOKEN_ROUTE]).await;
    assert_eq!(
        after - before,
        1.0,
        "one refresh for 12 concurrent requests"
    );
    let refused = answered(server.url(), &["status=\"401\""]).await - refused_before;
    assert_eq!(refused, 0.0, "refreshed before it expired");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_static_token_that_expires_gets_an_error_that_says_so() {
    let dirs = tempfile::tempdir().unwrap();
    // 3 s: the catalog counts whole seconds, so the token lasts 2 s at least, time enough
    // to open the writer on a busy machine.
    let server = serve(dirs.path(), 3, KEYS[0], "127.0.0.1:0");
    let admin = token_client(server.url(), ADMIN_TOKEN).await;
    let ident = create_table(&admin, "short", 2).await;
    let token = RestClient::fetch_token(server.url(), "writer", "writer-secret")
        .await
        .unwrap();
    let client = token_client(server.url(), &token).await;
    let mut writer = open_writer(&client, &ident, "w").await;
    let mut rng = Rng(5);
    let cp = random_checkpoint(&mut rng, &mut BTreeMap::new(), 40, 80, 1);
    writer.write(&batch(&cp, 0..cp.ids.len())).await.unwrap();
    tokio::time::sleep(Duration::from_millis(3100)).await;

    let error = writer.commit(Some(1), None).await.unwrap_err();
    let text = error_chain(&error);
    for expected in [
        "the catalog refused the token (401: it expired or was revoked)",
        "connect with a credential ID:SECRET instead",
    ] {
        assert!(text.contains(expected), "{text}");
    }
    assert!(!text.contains(&token), "{text}");
    let table = admin.load_table(&ident).await.unwrap();
    assert_eq!(table.metadata.snapshots().count(), 0, "nothing committed");
    assert!(matches!(
        client.load_table(&ident).await,
        Err(RestError::TokenRefused { .. })
    ));

    // The CLI says the same, once, without the token.
    let run = floe_run(
        &[
            "table",
            "show",
            "--catalog",
            server.url(),
            "--table",
            "ns.short",
        ],
        &[("FLOE_TOKEN", token.as_str())],
    );
    assert!(!run.status.success());
    let line = run.error_line();
    assert!(line.contains("the catalog refused the token"), "{line}");
    assert!(line.contains("credential"), "{line}");
    assert!(!run.stderr.contains(&token), "{}", run.stderr);
}

/// Tokens the catalog stops accepting, without waiting for them to expire: the server
/// restarts on the same address and data with another signing key, which revokes every
/// token it issued. The client notices only by the 401.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refused_token_is_replaced_and_the_request_sent_once_more() {
    let dirs = tempfile::tempdir().unwrap();
    let mut server = serve(dirs.path(), 3600, KEYS[0], "127.0.0.1:0");
    let url = server.url().to_string();
    let addr = url.strip_prefix("http://").unwrap().to_string();
    let client = credential_client(&url).await;
    let ident = create_table(&client, "rotated", 2).await;
    let mut writer = open_writer(&client, &ident, "w").await;
    let mut model = BTreeMap::new();
    commit_checkpoints(&mut writer, &mut model, 1..=1, Duration::ZERO).await;
    let issued = RestClient::fetch_token(&url, "writer", "writer-secret")
        .await
        .unwrap();
    let static_client = token_client(&url, &issued).await;
    static_client.load_table(&ident).await.unwrap();

    let mut restart = |key: &str| {
        server.kill9();
        server = serve(dirs.path(), 3600, key, &addr);
        assert_eq!(server.url(), url);
    };
    restart(KEYS[1]);
    // A commit (a POST with a body): refused, a new token, the same body sent again.
    set_properties(&client, &ident, &[("rotated", "yes")]).await;
    let post = |status: &'static str| [TABLE_ROUTE, "method=\"POST\"", status];
    assert_eq!(answered(&url, &post("status=\"401\"")).await, 1.0);
    assert_eq!(answered(&url, &post("status=\"200\"")).await, 1.0);
    assert_eq!(answered(&url, &[TOKEN_ROUTE]).await, 1.0);
    let table = client.load_table(&ident).await.unwrap();
    assert_eq!(table.metadata.properties()["rotated"], "yes");
    // A static token cannot be replaced: revoked is refused, clearly.
    let refused = static_client.load_table(&ident).await.unwrap_err();
    assert!(
        matches!(refused, RestError::TokenRefused { .. }),
        "{refused}"
    );

    // The writer's next checkpoint after another rotation: its load and its commit.
    restart(KEYS[2]);
    commit_checkpoints(&mut writer, &mut model, 2..=2, Duration::ZERO).await;
    assert_eq!(answered(&url, &["status=\"401\""]).await, 1.0);
    assert_eq!(answered(&url, &[TOKEN_ROUTE]).await, 1.0);
    let table = client.load_table(&ident).await.unwrap();
    assert_eq!(scan(&table).await, model);
}

/// `floe ARGS` with the environment `envs` (and neither `FLOE_TOKEN` nor `FLOE_CREDENTIAL`
/// but those given).
fn floe_run(args: &[&str], envs: &[(&str, &str)]) -> Run {
    let mut command = floe_command(args);
    command
        .env_remove("FLOE_TOKEN")
        .env_remove("FLOE_CREDENTIAL");
    command.envs(envs.iter().copied());
    Run::from(command.output().unwrap())
}

/// `path` as a `@FILE` argument.
fn at(path: &Path) -> String {
    format!("@{}", path.display())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tokens_and_credentials_from_files() {
    let dirs = tempfile::tempdir().unwrap();
    let server = serve(dirs.path(), 60, KEYS[0], "127.0.0.1:0");
    let url = server.url();
    let secrets = dirs.path().join("secrets");
    std::fs::create_dir(&secrets).unwrap();
    let write = |name: &str, text: &str| -> PathBuf {
        let path = secrets.join(name);
        std::fs::write(&path, text).unwrap();
        path
    };
    let credential_file = write("credential", &format!("{CREDENTIAL}\n"));
    let token_file = write("token", &format!("{ADMIN_TOKEN}\n"));
    let empty_file = write("empty", "\n");
    let missing_file = secrets.join("missing");
    let (base1, base2) = (
        fixture_path("changes/base-1.parquet"),
        fixture_path("changes/base-2.parquet"),
    );
    let upsert = |input: &Path, extra: &[&str]| {
        let mut args = upsert_args(url, "ns.t", &[input], &["--key", "id", "--buckets", "4"]);
        args.extend(extra.iter().map(|s| s.to_string()));
        args
    };

    // --credential @FILE creates and writes the table.
    let args = upsert(&base1, &["--create", "--credential", &at(&credential_file)]);
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let run = floe_run(&args, &[]).succeeded("upsert with --credential @FILE");
    assert!(
        run.stdout.contains("committed snapshot") && run.stdout.contains("with 200 rows"),
        "{}",
        run.stdout
    );
    // FLOE_CREDENTIAL=@FILE writes the next checkpoint.
    let args = upsert(&base2, &["--writer-id", "second"]);
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    floe_run(&args, &[("FLOE_CREDENTIAL", &at(&credential_file))])
        .succeeded("upsert with FLOE_CREDENTIAL=@FILE");
    // --token @FILE and FLOE_TOKEN=@FILE read it.
    let show = ["table", "show", "--catalog", url, "--table", "ns.t"];
    let token_arg = at(&token_file);
    let with_flag = floe_run(&[&show[..], &["--token", token_arg.as_str()]].concat(), &[])
        .succeeded("table show --token @FILE");
    let with_env = floe_run(&show, &[("FLOE_TOKEN", &token_arg)]).succeeded("FLOE_TOKEN=@FILE");
    assert_eq!(with_flag.stdout, with_env.stdout);
    let admin = token_client(url, ADMIN_TOKEN).await;
    let ident = TableIdent::from_strs(["ns", "t"]).unwrap();
    let before = admin.load_table(&ident).await.unwrap();
    assert_eq!(before.metadata.snapshots().count(), 2);

    // A missing or empty file: refused before anything is sent, naming the file.
    let files_before = list_files(&dirs.path().join("warehouse"));
    let cases = [
        (
            "--credential",
            &missing_file,
            "cannot read the credential from",
        ),
        ("--token", &missing_file, "cannot read the token from"),
        ("--token", &empty_file, "the file is empty"),
    ];
    for (flag, file, expected) in cases {
        let args = upsert(&base2, &["--writer-id", "third", flag, &at(file)]);
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let run = floe_run(&args, &[]);
        assert!(!run.status.success(), "{flag} {}", file.display());
        let line = run.error_line();
        assert!(line.contains(expected), "{line}");
        assert!(line.contains(&file.display().to_string()), "{line}");
        assert!(!run.stdout.contains("committed"), "{}", run.stdout);
    }
    let after = admin.load_table(&ident).await.unwrap();
    assert_eq!(after.metadata_location, before.metadata_location);
    assert_eq!(list_files(&dirs.path().join("warehouse")), files_before);
    // No secret in any answer or log.
    let log = server.log_text();
    for secret in ["writer-secret", ADMIN_TOKEN] {
        assert!(!log.contains(secret), "{secret} in the log");
    }
}
