//! Durable Objects from Elixir, end to end under a real `wrangler dev`: the
//! test app's `TestApp.Counter` is a Durable Object class the worker
//! exports (from `durable_objects.js`, written as `build` writes it from
//! wrangler.jsonc), its storage read and written through the pass
//! protocol, and routes of the app call it by name and by id.
//!
//! The count is the point: many requests increment one object at once,
//! each reading the count and writing it back one higher over two runs of
//! the VM; the object must end at exactly that many, and every answer must
//! be a different count.

use serde_json::Value;
use std::collections::BTreeSet;
use test_support::wrangler::TestProject;
use test_support::{http, require_runtime, Reply};

/// How many increments run at once.
const CONCURRENT: usize = 40;

fn json_of(reply: &Reply) -> Value {
    serde_json::from_slice(&reply.body)
        .unwrap_or_else(|e| panic!("not JSON ({e}), status {}: {}", reply.status, reply.text()))
}

#[test]
fn a_counter_object_counts_concurrent_increments_exactly() {
    let Some(runtime) = require_runtime("Durable Objects under wrangler dev") else {
        return;
    };
    let project = TestProject::build(
        &runtime,
        &Default::default(),
        r#"  "name": "e2e-durable",
  "durable_objects": { "bindings": [{ "name": "COUNTER", "class_name": "Counter" }] },
  "migrations": [{ "tag": "v1", "new_sqlite_classes": ["Counter"] }]"#,
    );
    let generated =
        std::fs::read_to_string(project.path.join("_build/worker/src/durable_objects.js")).unwrap();
    assert!(
        generated.contains("export const Counter = objectClass(\"Counter\", app);"),
        "{generated}"
    );
    let server = project.serve(&[]);
    let port = server.port;

    // A new object counts from nothing; the route's answer is the object's,
    // one extra pass for the call.
    let r = server.request("GET", "/counter/fresh", &[], b"");
    assert_eq!(r.status, 200, "{}", r.text());
    let fresh = json_of(&r);
    assert_eq!(fresh["count"], 0, "{fresh}");
    assert_eq!(fresh["class"], "Counter", "{fresh}");
    assert_eq!(
        fresh["name"], "fresh",
        "the object knows the name it was called by: {fresh}"
    );
    assert_eq!(r.header("x-pass"), Some("2"), "one call: one extra pass");
    let fresh_id = fresh["id"].as_str().expect("an id").to_string();
    assert_eq!(
        fresh_id.len(),
        64,
        "a Durable Object id is 64 hex digits: {fresh_id}"
    );

    // Many increments of one object at once: each answers its own count,
    // and they are exactly 1..=CONCURRENT.
    let answers: Vec<Reply> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..CONCURRENT)
            .map(|_| {
                s.spawn(|| http(port, "POST", "/counter/shared", &[], b"").expect("an answer"))
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    let mut counts = BTreeSet::new();
    for r in &answers {
        assert_eq!(r.status, 200, "{}\n{}", r.text(), server.log());
        counts.insert(
            r.text()
                .parse::<u64>()
                .unwrap_or_else(|e| panic!("{e}: {}", r.text())),
        );
    }
    assert_eq!(
        counts,
        (1..=CONCURRENT as u64).collect::<BTreeSet<_>>(),
        "every increment saw the one before it"
    );
    let r = server.request("GET", "/counter/shared", &[], b"");
    assert_eq!(r.status, 200, "{}", r.text());
    let shared = json_of(&r);
    assert_eq!(shared["count"], CONCURRENT, "{shared}");
    eprintln!(
        "{CONCURRENT} concurrent increments: count {}",
        shared["count"]
    );

    // The same objects by id: the other one kept its own storage.
    let r = server.request("GET", &format!("/counter_by_id/{fresh_id}"), &[], b"");
    assert_eq!(r.status, 200, "{}", r.text());
    let by_id = json_of(&r);
    assert_eq!(by_id["id"], fresh_id.as_str(), "{by_id}");
    assert_eq!(by_id["count"], 0, "{by_id}");
    let shared_id = shared["id"].as_str().unwrap();
    let r = server.request("GET", &format!("/counter_by_id/{shared_id}"), &[], b"");
    assert_eq!(json_of(&r)["count"], CONCURRENT, "{}", r.text());

    // An id that is not one is an error the route gets, not a crash.
    let r = server.request("GET", "/counter_by_id/not-an-id", &[], b"");
    assert_eq!(r.status, 502, "{}", r.text());
    assert_eq!(json_of(&r)["reason"], "invalid", "{}", r.text());
}
