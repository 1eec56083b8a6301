//! `GET /api/books/?q=`: full-text search over title, author name and ISBN
//! (API.md "Catalog", the Search paragraph), over real HTTP.

use libris_e2e::TestApp;
use reqwest::Method;
use serde_json::{json, Value};

fn titles(body: &Value) -> Vec<String> {
    body["results"]
        .as_array()
        .expect("results")
        .iter()
        .map(|book| book["title"].as_str().expect("a title").to_owned())
        .collect()
}

fn sorted(mut titles: Vec<String>) -> Vec<String> {
    titles.sort();
    titles
}

/// `q` percent-encoded, as a browser would send it.
fn encode(q: &str) -> String {
    q.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

async fn search(app: &TestApp, query: &str) -> Value {
    app.get(&format!("/api/books/?{query}"), None)
        .await
        .expect(200)
}

async fn found(app: &TestApp, q: &str) -> Vec<String> {
    let body = search(app, &format!("q={}", encode(q))).await;
    let titles = titles(&body);
    assert_eq!(body["count"], titles.len(), "q={q:?}: count and page agree");
    titles
}

async fn book_with_isbn(app: &TestApp, title: &str, author: i64, isbn: &str) -> i64 {
    app.post_book(json!({"title": title, "author": author, "isbn": isbn}))
        .await
        .expect(201)["id"]
        .as_i64()
        .expect("an id")
}

#[actix_web::test]
async fn the_contract_examples_find_what_api_md_says() {
    let app = TestApp::spawn().await;
    let herbert = app.author("Frank Herbert").await;
    let zola = app.author("Émile Zola").await;
    book_with_isbn(&app, "Dune", herbert, "978-0-441-17271-9").await;
    app.book("Dune Messiah", herbert).await;
    app.book("Children of Dune", herbert).await;
    app.book("Germinal", zola).await;
    app.book("Dunes of the Sahara", zola).await;

    assert_eq!(found(&app, "dun mess").await, ["Dune Messiah"]);
    assert_eq!(
        sorted(found(&app, "herbert dune").await),
        ["Children of Dune", "Dune", "Dune Messiah"]
    );
    assert_eq!(
        found(&app, "DUNE messIAH").await,
        ["Dune Messiah"],
        "any case"
    );
    assert_eq!(
        sorted(found(&app, "emile").await),
        ["Dunes of the Sahara", "Germinal"],
        "without the accent"
    );
    assert_eq!(found(&app, "ÉMILE GERM").await, ["Germinal"]);
    assert_eq!(
        found(&app, "9780441172719").await,
        ["Dune"],
        "ISBN without hyphens"
    );
    assert_eq!(
        found(&app, "978-0-441-17271-9").await,
        ["Dune"],
        "and with them"
    );
    assert_eq!(found(&app, "978044117").await, ["Dune"], "its start");
    assert!(
        found(&app, "une").await.is_empty(),
        "a word's start, not its middle"
    );
    assert!(
        found(&app, "dune germinal").await.is_empty(),
        "every word must match"
    );
}

#[actix_web::test]
async fn the_best_match_comes_first_then_the_newest() {
    let app = TestApp::spawn().await;
    let press = app.author("Dune Press").await;
    let herbert = app.author("Frank Herbert").await;
    app.book("Sandworms", press).await;
    app.book("Dune", herbert).await;
    app.book("Dune Messiah", herbert).await;
    app.book("Spice", press).await;

    // Every word in the title first, newest first; then the books that
    // match only through their author, newest first.
    assert_eq!(
        found(&app, "dune").await,
        ["Dune Messiah", "Dune", "Spice", "Sandworms"]
    );
    let page = search(&app, "q=dune&limit=2&offset=1").await;
    assert_eq!(page["count"], 4);
    assert_eq!(titles(&page), ["Dune", "Spice"]);
}

#[actix_web::test]
async fn search_combines_with_the_filters_and_pages() {
    let app = TestApp::spawn().await;
    let herbert = app.author("Frank Herbert").await;
    let other = app.author("Someone Else").await;
    let dune = app.book("Dune", herbert).await;
    app.book("Dune Messiah", herbert).await;
    app.book("Dune Fan Fiction", other).await;
    app.patch_book(dune, json!({"available": false}))
        .await
        .expect(200);

    let body = search(&app, &format!("q=dune&author={herbert}")).await;
    assert_eq!(
        (body["count"].as_i64(), titles(&body)),
        (Some(2), vec!["Dune Messiah".to_owned(), "Dune".to_owned()])
    );
    let body = search(&app, &format!("q=dune&author={herbert}&available=true")).await;
    assert_eq!(titles(&body), ["Dune Messiah"]);
    let body = search(&app, "q=dune&available=false").await;
    assert_eq!(titles(&body), ["Dune"]);
    let body = search(&app, "q=dune&limit=1").await;
    assert_eq!(
        (body["count"].as_i64(), titles(&body)),
        (Some(3), vec!["Dune Fan Fiction".to_owned()])
    );
}

#[actix_web::test]
async fn changes_are_searchable_as_soon_as_they_are_answered() {
    let app = TestApp::spawn().await;
    let herbert = app.author("Frank Herbert").await;
    let dune = app.book("Dune", herbert).await;
    app.book("Dune Messiah", herbert).await;

    app.patch_book(dune, json!({"title": "Arrakis"}))
        .await
        .expect(200);
    assert_eq!(found(&app, "arrakis").await, ["Arrakis"]);
    assert_eq!(found(&app, "dune").await, ["Dune Messiah"]);

    app.admin(
        Method::PATCH,
        &format!("/api/authors/{herbert}/"),
        Some(json!({"name": "Brian Herbert"})),
    )
    .await
    .expect(200);
    assert!(
        found(&app, "frank").await.is_empty(),
        "a renamed author's old name"
    );
    assert_eq!(
        sorted(found(&app, "brian").await),
        ["Arrakis", "Dune Messiah"]
    );

    app.delete_book(dune).await.expect(204);
    assert!(found(&app, "arrakis").await.is_empty());

    let imported = app
        .bulk_import(json!([
            {"title": "Heretics of Dune", "author_id": herbert, "isbn": "978-0-441-32800-3"},
            {"title": "Chapterhouse", "author_id": herbert},
        ]))
        .await
        .expect(201);
    assert_eq!(imported["imported"], 2);
    assert_eq!(found(&app, "heretic").await, ["Heretics of Dune"]);
    assert_eq!(found(&app, "9780441328003").await, ["Heretics of Dune"]);
}

#[actix_web::test]
async fn operators_wildcards_and_odd_queries_are_plain_text_never_errors() {
    let app = TestApp::spawn().await;
    let author = app.author("Anon").await;
    for title in [
        "100% Cotton",
        "1000 Cottons",
        "a_b",
        "axb",
        "Near and Far",
        "Dune",
    ] {
        app.book(title, author).await;
    }
    // A query with no letter or digit has no word to match: nothing, never
    // everything (no character is a wildcard).
    for q in [
        "%", "_", "*", "\"", "(", ")", "-", "'", "\\", "^", "%_*", "\"\"", ":", "{}",
    ] {
        assert!(found(&app, q).await.is_empty(), "q={q:?}");
    }
    assert_eq!(
        sorted(found(&app, "100%").await),
        ["100% Cotton", "1000 Cottons"]
    );
    assert_eq!(
        found(&app, "a_b").await,
        ["a_b"],
        "`_` is no single-character wildcard"
    );
    assert_eq!(
        found(&app, "near").await,
        ["Near and Far"],
        "NEAR is a word"
    );
    assert_eq!(found(&app, "NEAR far").await, ["Near and Far"]);
    assert_eq!(
        found(&app, "near AND far").await,
        ["Near and Far"],
        "AND is a word"
    );
    assert!(
        found(&app, "dune AND").await.is_empty(),
        "so it must match too"
    );
    assert!(
        found(&app, "dune OR near").await.is_empty(),
        "OR is no operator"
    );
    assert!(found(&app, "dune NOT").await.is_empty());
    assert_eq!(
        found(&app, "\"dune\"").await,
        ["Dune"],
        "quotes are punctuation"
    );
    assert_eq!(found(&app, "'dune'").await, ["Dune"]);
    assert_eq!(found(&app, "dun*").await, ["Dune"]);
    assert_eq!(found(&app, "(dune)").await, ["Dune"]);
    assert_eq!(
        found(&app, "-dune").await,
        ["Dune"],
        "no exclusion operator"
    );
    assert_eq!(
        found(&app, "title:dune").await,
        Vec::<String>::new(),
        "no column filter"
    );
    let long = "dune ".repeat(400) + &"x".repeat(3000);
    assert!(found(&app, &long).await.is_empty(), "a very long query");
    let all = search(&app, "q=").await;
    assert_eq!(all["count"], 6, "an empty q is no filter");
    let all = search(&app, "q=%20%20").await;
    assert_eq!(all["count"], 6, "nor is a blank one");
}
