//! Secrets given as `@PATH`: a token or credential read from a file instead of a literal,
//! so it stays out of the command line (`ps`, shell history) and the environment.

use std::path::PathBuf;

use crate::rest::RestError;

/// `value` itself, or the contents of file `PATH` when `value` is `@PATH`, trailing
/// whitespace (the newline) trimmed. `what` (`token`, `credential`) names the secret in
/// errors, which name the file and never its contents. A missing, unreadable or empty
/// file is an error.
pub fn read_secret(value: &str, what: &'static str) -> Result<String, RestError> {
    let Some(path) = value.strip_prefix('@') else {
        return Ok(value.to_string());
    };
    let path = PathBuf::from(path);
    let error = |reason: String, source| RestError::SecretFile {
        what,
        path: path.clone(),
        reason,
        source,
    };
    let text = std::fs::read_to_string(&path).map_err(|e| error(e.to_string(), Some(e)))?;
    let secret = text.trim_end();
    if secret.is_empty() {
        return Err(error("the file is empty".into(), None));
    }
    Ok(secret.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn literals_and_files() {
        let dir = std::env::temp_dir().join(format!("floe-secret-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let file = |name: &str, text: &str| {
            let path = dir.join(name);
            std::fs::write(&path, text).unwrap();
            format!("@{}", path.display())
        };
        let cases = [
            ("s3cr3t".to_string(), Ok("s3cr3t")),
            (file("newline", "tok-1\n"), Ok("tok-1")),
            (file("crlf", "id:secret \r\n\n"), Ok("id:secret")),
            (file("inner", "a b\n"), Ok("a b")),
            (file("empty", ""), Err("the file is empty")),
            (file("blank", " \n\n"), Err("the file is empty")),
            (
                format!("@{}", dir.join("missing").display()),
                Err("No such file"),
            ),
        ];
        for (value, expected) in cases {
            match (read_secret(&value, "token"), expected) {
                (Ok(got), Ok(want)) => assert_eq!(got, want, "{value}"),
                (Err(e), Err(want)) => {
                    let text = e.to_string();
                    assert!(
                        text.starts_with(&format!("cannot read the token from {}", &value[1..]))
                            && text.contains(want),
                        "{value}: {text}"
                    );
                }
                (got, want) => panic!("{value}: got {got:?}, want {want:?}"),
            }
        }
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
