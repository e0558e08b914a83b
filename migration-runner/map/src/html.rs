//! The page: one HTML file with its styles, the vendored libraries (in
//! `vendor/ORDER`), the map's script and the document inside. The page's
//! Content-Security-Policy allows nothing to be fetched.

use crate::document::MapDocument;

const TEMPLATE: &str = include_str!("../assets/page.html");
const STYLE: &str = include_str!("../assets/map.css");
const SCRIPT: &str = include_str!("../assets/map.js");
/// The vendored libraries, in the order `vendor/ORDER` gives (each reads the
/// global the one before it set); a test holds this list to that file.
pub const VENDORED: [(&str, &str); 4] = [
    (
        "cytoscape.min.js",
        include_str!("../vendor/cytoscape.min.js"),
    ),
    ("layout-base.js", include_str!("../vendor/layout-base.js")),
    ("cose-base.js", include_str!("../vendor/cose-base.js")),
    (
        "cytoscape-fcose.js",
        include_str!("../vendor/cytoscape-fcose.js"),
    ),
];

/// The document as JSON that cannot end the `<script>` element holding it.
fn embedded(document: &MapDocument) -> String {
    serde_json::to_string(document)
        .unwrap_or_default()
        .replace('<', "\\u003c")
        .replace('>', "\\u003e")
        .replace('&', "\\u0026")
}

/// The whole page.
pub fn render(document: &MapDocument) -> String {
    let mut scripts = String::new();
    for (_, source) in VENDORED {
        scripts.push_str(source);
        scripts.push_str("\n;\n");
    }
    scripts.push_str(SCRIPT);
    // Each marker once, in the template's order, each replacement taken as
    // is (the libraries hold `$`, and a marker's text could appear in data).
    let mut markers: Vec<(usize, &str, String)> = [
        ("/*{{STYLE}}*/", STYLE.to_owned()),
        ("/*{{SCRIPTS}}*/", scripts),
        ("{{DATA}}", embedded(document)),
    ]
    .into_iter()
    .filter_map(|(marker, value)| Some((TEMPLATE.find(marker)?, marker, value)))
    .collect();
    markers.sort_by_key(|(at, _, _)| *at);
    let mut page = String::with_capacity(TEMPLATE.len() + 1024 * 1024);
    let mut rest = 0;
    for (at, marker, value) in markers {
        page.push_str(&TEMPLATE[rest..at]);
        page.push_str(&value);
        rest = at + marker.len();
    }
    let rest = &TEMPLATE[rest..];
    page.push_str(rest);
    page
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::document::FORMAT;

    fn empty() -> MapDocument {
        MapDocument {
            format: FORMAT.to_owned(),
            title: "</script><script>alert(1)</script>".to_owned(),
            source: "history".to_owned(),
            generated_at: String::new(),
            citus: false,
            schemas: Vec::new(),
            tables: Vec::new(),
            foreign_keys: Vec::new(),
            roles: Vec::new(),
        }
    }

    #[test]
    fn every_marker_is_filled_and_the_data_cannot_close_its_script() {
        let page = render(&empty());
        for marker in ["{{STYLE}}", "{{SCRIPTS}}", "{{DATA}}"] {
            assert!(!page.contains(marker), "{marker} left in the page");
        }
        assert!(!page.contains("</script><script>alert(1)"));
        assert!(page.contains("\\u003c/script\\u003e"));
        assert!(page.contains("cytoscapeFcose"));
    }

    #[test]
    fn the_vendored_libraries_are_pasted_in_the_order_vendor_order_gives() {
        let order = include_str!("../vendor/ORDER");
        let listed: Vec<&str> = order.lines().filter(|l| !l.trim().is_empty()).collect();
        let pasted: Vec<&str> = VENDORED.iter().map(|(name, _)| *name).collect();
        assert_eq!(listed, pasted);
    }

    #[test]
    fn the_page_fetches_nothing() {
        let page = render(&empty());
        assert!(page.contains("Content-Security-Policy\" content=\"default-src 'none'"));
        for fetching in [
            "<script src",
            "<link rel=\"stylesheet\" href",
            "@import",
            "fonts.googleapis",
        ] {
            assert!(!page.contains(fetching), "{fetching}");
        }
    }
}
