//! The rules apart from HTTP: grants, issued and static tokens, configurations refused.

use super::*;

fn grant(namespace: &str, access: Access) -> Grant {
    Grant {
        namespace: namespace.to_string(),
        access,
    }
}

fn levels(ns: &str) -> Vec<String> {
    ns.split('.').map(str::to_string).collect()
}

fn config() -> AuthConfig {
    AuthConfig {
        signing_key: "k".repeat(32),
        token_ttl_secs: 60,
        clients: vec![ClientConfig {
            id: "spark".into(),
            secret_sha256: hash_secret("s3cret"),
            grants: vec![grant("sales", Access::ReadWrite), grant("", Access::Read)],
        }],
        tokens: vec![StaticTokenConfig {
            name: "dashboards".into(),
            token_sha256: hash_secret("static-token"),
            grants: vec![grant("sales.eu", Access::Read)],
        }],
    }
}

#[test]
fn the_longest_covering_prefix_decides() {
    let p = Principal {
        name: "p".into(),
        grants: vec![
            grant("", Access::Read),
            grant("sales", Access::ReadWrite),
            grant("sales.archive", Access::Read),
        ],
    };
    let cases = [
        ("hr", Some(Access::Read)),
        ("sales", Some(Access::ReadWrite)),
        ("sales.eu", Some(Access::ReadWrite)),
        ("sales.archive", Some(Access::Read)),
        ("sales.archive.2024", Some(Access::Read)),
        ("salesforce", Some(Access::Read)),
    ];
    for (ns, want) in cases {
        assert_eq!(p.access_to(&levels(ns)), want, "{ns}");
    }
    let narrow = Principal {
        name: "n".into(),
        grants: vec![grant("sales.eu", Access::Read)],
    };
    let cases = [
        ("sales", None),
        ("sales.eu", Some(Access::Read)),
        ("sales.us", None),
        ("salesforce", None),
    ];
    for (ns, want) in cases {
        assert_eq!(narrow.access_to(&levels(ns)), want, "{ns}");
    }
    assert!(narrow.has_any(Access::Read));
    // Only a "" grant covers the whole catalog (the top-level listing, /metrics).
    assert_eq!(narrow.access_to(&[]), None);
    assert_eq!(p.access_to(&[]), Some(Access::Read));
    assert!(!narrow.has_any(Access::ReadWrite));
}

#[test]
fn tokens_are_issued_for_the_right_secret_and_expire() {
    let auth = Authenticator::new(&config()).unwrap();
    assert_eq!(
        auth.issue("spark", "wrong", 1000),
        Err(AuthError::InvalidClient)
    );
    assert_eq!(
        auth.issue("nobody", "s3cret", 1000),
        Err(AuthError::InvalidClient)
    );
    let issued = auth.issue("spark", "s3cret", 1000).unwrap();
    assert_eq!(issued.expires_in, 60);
    let who = auth.authenticate(&issued.access_token, 1059).unwrap();
    assert_eq!(who.name, "spark");
    assert_eq!(who.access_to(&levels("sales")), Some(Access::ReadWrite));
    // Expired, tampered, foreign.
    assert_eq!(
        auth.authenticate(&issued.access_token, 1060),
        Err(AuthError::Unauthorized)
    );
    let mut tampered = issued.access_token.clone();
    tampered.pop();
    tampered.push('x');
    assert_eq!(
        auth.authenticate(&tampered, 1001),
        Err(AuthError::Unauthorized)
    );
    let mut other = config();
    other.signing_key = "o".repeat(32);
    let foreign = Authenticator::new(&other)
        .unwrap()
        .issue("spark", "s3cret", 1000)
        .unwrap();
    assert_eq!(
        auth.authenticate(&foreign.access_token, 1001),
        Err(AuthError::Unauthorized)
    );
    assert_eq!(auth.authenticate("", 1001), Err(AuthError::Unauthorized));
}

#[test]
fn static_tokens() {
    let auth = Authenticator::new(&config()).unwrap();
    let who = auth.authenticate("static-token", 5).unwrap();
    assert_eq!(who.name, "dashboards");
    assert_eq!(who.access_to(&levels("sales.eu")), Some(Access::Read));
    assert_eq!(who.access_to(&levels("sales")), None);
    // Static tokens do not expire.
    assert_eq!(auth.authenticate("static-token", i64::MAX).unwrap(), who);
    assert_eq!(
        auth.authenticate("static-tokeN", 5),
        Err(AuthError::Unauthorized)
    );
}

#[test]
fn bad_configurations_are_refused() {
    let mut short = config();
    short.signing_key = "short".into();
    let mut bad_hash = config();
    bad_hash.clients[0].secret_sha256 = "s3cret".into();
    let mut twice = config();
    twice.clients.push(twice.clients[0].clone());
    let mut granted_twice = config();
    granted_twice.tokens[0]
        .grants
        .push(grant("sales.eu", Access::ReadWrite));
    let mut bad_prefix = config();
    bad_prefix.clients[0]
        .grants
        .push(grant("sales..eu", Access::Read));
    for (c, why) in [
        (short, "32 bytes"),
        (bad_hash, "64 hex digits"),
        (twice, "twice"),
        (granted_twice, "granted twice"),
        (bad_prefix, "dot-separated levels"),
    ] {
        let err = Authenticator::new(&c).err().expect(why);
        assert!(err.to_string().contains(why), "{err}");
    }
    let printed = format!("{:?}", config());
    assert!(
        !printed.contains(&hash_secret("s3cret")) && !printed.contains("kkkk"),
        "{printed}"
    );
}

#[test]
fn a_principal_allows_by_its_grants() {
    let p = Principal {
        name: "p".into(),
        grants: vec![grant("", Access::Read), grant("sales", Access::ReadWrite)],
    };
    let ro = Principal {
        name: "ro".into(),
        grants: vec![grant("", Access::Read)],
    };
    let n = |ns: &str, access| Need {
        scope: Scope::Namespace(levels(ns)),
        access,
    };
    let anywhere = |access| Need {
        scope: Scope::Anywhere,
        access,
    };
    let cases = [
        (&p, n("sales.eu", Access::ReadWrite), true),
        (&p, n("hr", Access::ReadWrite), false),
        (&p, n("hr", Access::Read), true),
        (&p, anywhere(Access::ReadWrite), true),
        (&ro, anywhere(Access::ReadWrite), false),
        (&ro, anywhere(Access::Read), true),
        (&ro, n("sales", Access::ReadWrite), false),
    ];
    for (who, need, allowed) in cases {
        assert_eq!(who.allows(&need), allowed, "{} {need:?}", who.name);
    }
}

#[test]
fn listings_show_what_a_principal_reads_and_the_way_to_it() {
    let p = Principal {
        name: "team".into(),
        grants: vec![
            grant("org.team", Access::ReadWrite),
            grant("pub", Access::Read),
        ],
    };
    // (namespace, shown); the empty namespace is the catalog itself.
    let cases = [
        ("org", true),
        ("org.team", true),
        ("org.team.sub", true),
        ("org.other", false),
        ("orgs", false),
        ("pub", true),
        ("pub.x", true),
        ("secret", false),
    ];
    for (ns, shown) in cases {
        assert_eq!(p.sees(&levels(ns)), shown, "{ns}");
    }
    assert!(p.sees(&[]), "the top level leads to its grants");
    let nothing = Principal {
        name: "none".into(),
        grants: vec![],
    };
    assert!(!nothing.sees(&[]) && !nothing.sees(&levels("pub")));
}
