//! Checks of a node's home that commands opening it themselves (`run`,
//! `ledger`) make first, so that a wrong `--home`, or a store key looked
//! for in the wrong place, is told as such rather than as a damaged home.

use std::path::Path;

use crate::error::CliError;

/// The environment variable holding the store passphrase.
pub(crate) const PASSPHRASE_VAR: &str = "CONFRERE_PASSPHRASE";

/// The store passphrase from the environment (an empty one counts as none).
pub(crate) fn passphrase() -> Option<String> {
    std::env::var(PASSPHRASE_VAR).ok().filter(|p| !p.is_empty())
}

fn where_homes_come_from(home: &Path) -> String {
    format!(
        "check --home (or CONFRERE_HOME); a node's home is made with `confrere init --home {} …`",
        home.display()
    )
}

/// `home` must be a directory made by `confrere init`.
pub(crate) fn require_home(home: &Path) -> Result<(), CliError> {
    let shown = home.display();
    match std::fs::metadata(home) {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Err(CliError::input(
            format!("there is no node home at {shown}"),
            where_homes_come_from(home),
        )),
        Err(e) => Err(CliError::input(
            format!("cannot read the home {shown}: {e}"),
            "run the command as the user that owns the home",
        )),
        Ok(m) if !m.is_dir() => Err(CliError::input(
            format!("{shown} is a file, not a node's home"),
            "check --home (or CONFRERE_HOME): it names the directory `confrere init` made",
        )),
        Ok(_) if !home.join("credential.bin").exists() => Err(CliError::input(
            format!("{shown} holds no credential.bin: this is not a Confrère home"),
            where_homes_come_from(home),
        )),
        Ok(_) => Ok(()),
    }
}

/// Whether the home's store was ever opened (by the daemon, or by a
/// `ledger` command while the daemon was stopped).
pub(crate) fn store_exists(home: &Path) -> bool {
    home.join("store").exists() || home.join("store.id").exists()
}

/// An existing store is opened either with its key file
/// (`keys/store.key`) or with a passphrase (its salt is `store.salt`).
/// Looking for the key in the other place fails in the store as a missing
/// or damaged file; this tells the user what is really wrong.
pub(crate) fn check_key_source(home: &Path, passphrase_given: bool) -> Result<(), CliError> {
    if !store_exists(home) {
        return Ok(());
    }
    let shown = home.display();
    let key_file = home.join("keys").join("store.key").exists();
    let salt = home.join("store.salt").exists();
    if passphrase_given && key_file && !salt {
        return Err(CliError::input(
            format!(
                "{PASSPHRASE_VAR} is set, but the store of {shown} is opened with its key file \
                 (keys/store.key), not with a passphrase"
            ),
            format!("unset {PASSPHRASE_VAR} for this home, then retry"),
        ));
    }
    if !passphrase_given && salt && !key_file {
        return Err(CliError::input(
            format!(
                "the store of {shown} is opened with a passphrase, and {PASSPHRASE_VAR} is not set"
            ),
            format!(
                "set {PASSPHRASE_VAR} to the passphrase the store was made with (the one the \
                 home's first `confrere run` was given), then retry"
            ),
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::EXIT_USAGE;

    #[test]
    fn a_missing_home_or_a_plain_directory_is_not_a_home() {
        let dir = tempfile::tempdir().expect("tempdir");
        let missing = dir.path().join("nope");
        let e = require_home(&missing).expect_err("missing");
        assert_eq!(e.code, EXIT_USAGE);
        assert!(e.message.contains("there is no node home at"), "{e:?}");
        let e = require_home(dir.path()).expect_err("empty directory");
        assert!(e.message.contains("this is not a Confrère home"), "{e:?}");
        std::fs::write(dir.path().join("credential.bin"), b"x").expect("write");
        assert!(require_home(dir.path()).is_ok());
    }

    #[test]
    fn a_key_looked_for_in_the_wrong_place_is_named() {
        let dir = tempfile::tempdir().expect("tempdir");
        let home = dir.path();
        // No store yet: nothing to say.
        assert!(check_key_source(home, true).is_ok());
        std::fs::create_dir_all(home.join("store")).expect("store");
        std::fs::create_dir_all(home.join("keys")).expect("keys");
        std::fs::write(home.join("keys/store.key"), [0u8; 32]).expect("key");
        let e = check_key_source(home, true).expect_err("key-file store");
        assert!(e.message.contains("opened with its key file"), "{e:?}");
        assert!(check_key_source(home, false).is_ok());
        std::fs::remove_file(home.join("keys/store.key")).expect("rm");
        std::fs::write(home.join("store.salt"), [0u8; 16]).expect("salt");
        let e = check_key_source(home, false).expect_err("passphrase store");
        assert!(e.message.contains("opened with a passphrase"), "{e:?}");
        assert!(check_key_source(home, true).is_ok());
    }
}
