//! The OpenAPI document and the router agree: the same routes, each one served.
mod common;

use std::collections::BTreeSet;

use auth_axum::api::{openapi, routes};
use common::{api_server, client};

fn documented() -> BTreeSet<(String, String)> {
    let doc = openapi();
    let mut out = BTreeSet::new();
    for (path, item) in doc["paths"].as_object().unwrap() {
        for method in item.as_object().unwrap().keys() {
            out.insert((method.to_uppercase(), path.clone()));
        }
    }
    out
}

#[test]
fn the_document_describes_exactly_the_routes_of_the_router() {
    let routed: BTreeSet<(String, String)> = routes()
        .into_iter()
        .map(|r| (r.method.to_string(), r.path.to_owned()))
        .collect();
    assert_eq!(documented(), routed);
    assert_eq!(routed.len(), 14);
    let doc = openapi();
    assert_eq!(doc["openapi"], "3.1.0");
    // Protected operations declare the bearer scheme, the others do not.
    for r in routes() {
        let op = &doc["paths"][r.path][r.method.as_str().to_lowercase()];
        let protected = op.get("security").is_some();
        assert_eq!(
            protected,
            op["responses"].get("401").is_some() && op["responses"].get("403").is_some(),
            "{} {}",
            r.method,
            r.path
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_documented_operation_is_served_and_nothing_else() {
    let server = api_server().await;
    let http = client();
    for (method, path) in documented() {
        let url = format!(
            "{}{}",
            server.base_url,
            path.replace("{id}", &"0".repeat(32))
        );
        let method = reqwest::Method::from_bytes(method.as_bytes()).unwrap();
        let resp = http.request(method.clone(), &url).send().await.unwrap();
        let status = resp.status().as_u16();
        assert!(status != 404 && status != 405, "{method} {path}: {status}");
        assert_eq!(resp.headers()["cache-control"], "no-store");
    }
    // The probe tells a missing route from a served one.
    for (method, path, status) in [
        ("GET", "/auth/login", 405),
        ("PUT", "/auth/me", 405),
        ("GET", "/auth/nothing-here", 404),
    ] {
        let method = reqwest::Method::from_bytes(method.as_bytes()).unwrap();
        let resp = http
            .request(method, format!("{}{path}", server.base_url))
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status().as_u16(), status, "{path}");
        assert_eq!(resp.headers()["cache-control"], "no-store");
    }
}
