//! The dashboard's files, embedded at build time: our own HTML, CSS and JavaScript from `web/`,
//! and uPlot's built files that `build.rs` took from the folder `scripts/fetch-deps.sh` fills.
//! No front-end build step: the browser loads these as they are (ES modules), offline.

use axum::extract::Path;
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};

struct Asset {
    name: &'static str,
    content_type: &'static str,
    body: &'static [u8],
}

macro_rules! web {
    ($name:literal, $type:expr) => {
        Asset {
            name: $name,
            content_type: $type,
            body: include_bytes!(concat!("../web/", $name)),
        }
    };
}

macro_rules! uplot {
    ($name:literal, $type:expr) => {
        Asset {
            name: $name,
            content_type: $type,
            body: include_bytes!(concat!(env!("OUT_DIR"), "/", $name)),
        }
    };
}

const JS: &str = "text/javascript; charset=utf-8";
const CSS: &str = "text/css; charset=utf-8";

const ASSETS: &[Asset] = &[
    web!("app.css", CSS),
    web!("app.js", JS),
    web!("api.js", JS),
    web!("format.js", JS),
    web!("charts.js", JS),
    web!("views.js", JS),
    uplot!("uPlot.iife.min.js", JS),
    uplot!("uPlot.min.css", CSS),
];

/// The page itself: every view is drawn by `app.js` from the URL.
pub const INDEX: &str = include_str!("../web/index.html");

/// `GET /assets/{file}`.
pub async fn asset(Path(file): Path<String>) -> Response {
    match ASSETS.iter().find(|a| a.name == file) {
        Some(a) => (
            [
                (header::CONTENT_TYPE, a.content_type),
                // Small files, and a new binary may change them: revalidate instead of caching.
                (header::CACHE_CONTROL, "no-cache"),
            ],
            a.body,
        )
            .into_response(),
        None => crate::ingest::error(StatusCode::NOT_FOUND, "file", "no such asset"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn index_links_only_embedded_assets() {
        for link in INDEX.split("/assets/").skip(1) {
            let name = link.split('"').next().unwrap();
            assert!(
                ASSETS.iter().any(|a| a.name == name),
                "index.html links /assets/{name}, which is not embedded"
            );
        }
    }

    #[test]
    fn modules_import_only_embedded_assets() {
        for a in ASSETS
            .iter()
            .filter(|a| a.name.ends_with(".js") && !a.name.starts_with("uPlot"))
        {
            let text = std::str::from_utf8(a.body).unwrap();
            for line in text.lines().filter(|l| l.starts_with("import ")) {
                let name = line.rsplit("\"./").next().unwrap().trim_end_matches("\";");
                assert!(
                    ASSETS.iter().any(|x| x.name == name),
                    "{} imports {name}, which is not embedded",
                    a.name
                );
            }
        }
    }

    #[test]
    fn uplot_is_embedded() {
        let js = ASSETS
            .iter()
            .find(|a| a.name == "uPlot.iife.min.js")
            .unwrap();
        assert!(js.body.len() > 10_000, "uPlot looks truncated");
    }
}
