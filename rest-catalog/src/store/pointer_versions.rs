//! The versions of the pointer znodes this node last read, so that a commit under its
//! table's lock moves the pointer with `setData` on the version it read under that lock,
//! without reading the znode a second time; a move forgets the version. A version changed
//! meanwhile (a register, which takes no lock) makes the `setData` fail with `BadVersion`,
//! answered as "pointer moved" exactly as a read would have answered it. A znode cannot be
//! deleted and made again (back at version 0) during the hold: drops and renames take the
//! table's lock.

use std::collections::HashMap;
use std::sync::Mutex;

/// Pointer znode path → (metadata location, znode version) as last seen.
#[derive(Default)]
pub(super) struct PointerVersions(Mutex<HashMap<String, (String, i32)>>);

impl PointerVersions {
    fn map(&self) -> std::sync::MutexGuard<'_, HashMap<String, (String, i32)>> {
        self.0.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The znode at `path` held `location` at `version`.
    pub fn saw(&self, path: &str, location: &str, version: i32) {
        self.map()
            .insert(path.to_string(), (location.to_string(), version));
    }

    /// The version last seen at `path` if the znode then held `location`.
    pub fn version_at(&self, path: &str, location: &str) -> Option<i32> {
        let map = self.map();
        let (seen, version) = map.get(path)?;
        (seen == location).then_some(*version)
    }

    /// Forgets what was seen at `path`.
    pub fn forget(&self, path: &str) {
        self.map().remove(path);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_version_is_known_only_for_the_location_seen() {
        let versions = PointerVersions::default();
        // (action, path, location, version answered for (path, location) afterwards)
        let steps: [(&str, &str, &str, Option<i32>); 5] = [
            ("look", "/t", "a", None),
            ("saw", "/t", "a", Some(3)),
            ("look", "/t", "b", None),
            ("saw", "/t", "b", Some(4)),
            ("forget", "/t", "b", None),
        ];
        for (action, path, location, expected) in steps {
            match action {
                "saw" => versions.saw(path, location, expected.unwrap()),
                "forget" => versions.forget(path),
                _ => {}
            }
            assert_eq!(
                versions.version_at(path, location),
                expected,
                "{action} {location}"
            );
        }
        assert_eq!(
            versions.version_at("/t", "a"),
            None,
            "replaced by b, then forgotten"
        );
    }
}
