//! The pages' own style sheet and script, compiled into the binary and
//! served under `/ui/assets/`: the pages load nothing from anywhere else.

/// An asset by its file name: its media type and contents.
pub(super) fn asset(name: &str) -> Option<(&'static str, &'static str)> {
    match name {
        "ui.css" => Some(("text/css; charset=utf-8", include_str!("assets/ui.css"))),
        "ui.js" => Some((
            "text/javascript; charset=utf-8",
            include_str!("assets/ui.js"),
        )),
        _ => None,
    }
}

#[cfg(test)]
#[allow(
    clippy::unwrap_used,
    reason = "a test fails at the first unexpected value"
)]
mod tests {
    use super::*;

    #[test]
    fn the_assets_name_no_outside_url() {
        for name in ["ui.css", "ui.js"] {
            let (_, text) = asset(name).unwrap();
            for outside in ["http", "url(", "@import", "import("] {
                assert!(!text.contains(outside), "{name} has {outside}");
            }
        }
        assert!(asset("../mod.rs").is_none());
    }
}
