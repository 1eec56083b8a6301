//! `docs/api.md`, the API reference in our words, held to what the server
//! says about itself (`GET /api/openapi.json`) and to the code's lists of
//! event names and reserved delivery headers. Either side gaining an
//! operation, a status or a field the other lacks fails here.
//!
//! The page's conventions, which this file reads (the page states them too):
//!
//! - an operation is a `###` heading of backticked `METHOD /path` spans,
//!   the path spelt as the document spells it (PUT and PATCH may share one);
//!   its section runs to the next `##` or `###` heading;
//! - its section has a line `**Who:** anyone|member|admin`;
//! - tables are known by the first cell of their header: `status` (one row
//!   per status, first cell the number), `body field`, `query parameter`,
//!   `request header`, `response field` (first cell the name in backticks);
//! - response fields are in the operation's section or in a section it
//!   links to (`[book](#the-book-object)`);
//! - events are rows of tables headed `event`.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use libris_e2e::TestApp;
use serde_json::Value;

const API_MD: &str = "docs/api.md";

/// The methods an OpenAPI path item may hold.
const METHODS: [&str; 8] = [
    "get", "put", "post", "delete", "options", "head", "patch", "trace",
];

fn repository() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// A file of the repository, by its path from the repository's root.
fn repository_file(relative: &str) -> String {
    let path = repository().join(relative);
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()))
}

/// Fails with every problem at once, one per line.
#[track_caller]
fn assert_no_problems(what: &str, problems: &[String]) {
    // A table several operations read reports its bad rows once.
    let mut seen = BTreeSet::new();
    let problems: Vec<&str> = problems
        .iter()
        .map(String::as_str)
        .filter(|p| seen.insert(*p))
        .collect();
    assert!(
        problems.is_empty(),
        "{what}: {} problem(s):\n- {}",
        problems.len(),
        problems.join("\n- ")
    );
}

// ---------------------------------------------------------------------------
// Reading docs/api.md

/// The texts between single backticks.
fn code_spans(text: &str) -> Vec<&str> {
    text.split('`').skip(1).step_by(2).collect()
}

/// `METHOD /path` in a code span.
fn as_operation(span: &str) -> Option<(String, String)> {
    let (method, path) = span.split_once(' ')?;
    let known = METHODS.contains(&method.to_ascii_lowercase().as_str())
        && method == method.to_ascii_uppercase();
    (known && path.starts_with('/') && !path.contains(' '))
        .then(|| (method.to_owned(), path.to_owned()))
}

/// A Markdown table: its header cells and rows, with the line of each row.
#[derive(Debug)]
struct Table {
    header: Vec<String>,
    rows: Vec<(usize, Vec<String>)>,
}

impl Table {
    fn kind(&self) -> &str {
        self.header.first().map_or("", String::as_str)
    }

    /// The rows' first cells, which must be one backticked name each.
    fn names(&self, problems: &mut Vec<String>) -> Vec<(usize, String)> {
        self.rows
            .iter()
            .filter_map(|(line, cells)| {
                let first = cells.first().map_or("", String::as_str);
                match first.strip_prefix('`').and_then(|c| c.strip_suffix('`')) {
                    Some(name) if !name.contains('`') => Some((*line, name.to_owned())),
                    _ => {
                        problems.push(format!(
                            "{API_MD}:{line}: a `{}` row must start with one name in backticks, not {first:?}",
                            self.kind()
                        ));
                        None
                    }
                }
            })
            .collect()
    }
}

fn cells(line: &str) -> Vec<String> {
    let inner = line.trim().trim_start_matches('|').trim_end_matches('|');
    inner.split('|').map(|c| c.trim().to_owned()).collect()
}

fn is_separator(line: &str) -> bool {
    let line = line.trim();
    line.starts_with('|')
        && cells(line)
            .iter()
            .all(|c| !c.is_empty() && c.chars().all(|ch| matches!(ch, '-' | ':')))
}

/// A heading and the lines up to the next heading.
#[derive(Debug)]
struct Section {
    level: usize,
    title: String,
    /// 1-based line of the heading.
    line: usize,
    lines: Vec<(usize, String)>,
    operations: Vec<(String, String)>,
}

impl Section {
    fn tables(&self) -> Vec<Table> {
        let mut tables = Vec::new();
        let mut i = 0;
        while i + 1 < self.lines.len() {
            let (_, header) = &self.lines[i];
            if header.trim_start().starts_with('|') && is_separator(&self.lines[i + 1].1) {
                let mut table = Table {
                    header: cells(header),
                    rows: Vec::new(),
                };
                i += 2;
                while let Some((line, row)) = self.lines.get(i) {
                    if !row.trim_start().starts_with('|') {
                        break;
                    }
                    table.rows.push((*line, cells(row)));
                    i += 1;
                }
                tables.push(table);
            } else {
                i += 1;
            }
        }
        tables
    }

    fn tables_of(&self, kind: &str) -> Vec<Table> {
        self.tables()
            .into_iter()
            .filter(|t| t.kind() == kind)
            .collect()
    }

    fn text(&self) -> String {
        self.lines
            .iter()
            .map(|(_, l)| l.as_str())
            .collect::<Vec<_>>()
            .join("\n")
    }

    /// The anchors of the page this section links to (`](#anchor)`).
    fn anchors(&self) -> BTreeSet<String> {
        links(&self.text())
            .into_iter()
            .filter_map(|target| target.strip_prefix('#').map(str::to_owned))
            .collect()
    }

    fn name(&self) -> String {
        format!("{API_MD}:{} ({})", self.line, self.title)
    }
}

/// The targets of the Markdown links in `text`.
fn links(text: &str) -> Vec<String> {
    text.split("](")
        .skip(1)
        .filter_map(|rest| rest.split_once(')').map(|(target, _)| target.to_owned()))
        .collect()
}

/// A heading's anchor as GitHub makes it: lowercase, punctuation other than
/// `-` and `_` dropped, spaces as `-`.
fn anchor(title: &str) -> String {
    title
        .to_lowercase()
        .chars()
        .filter_map(|c| match c {
            ' ' => Some('-'),
            c if c.is_alphanumeric() || c == '-' || c == '_' => Some(c),
            _ => None,
        })
        .collect()
}

fn sections(markdown: &str) -> Vec<Section> {
    let mut sections: Vec<Section> = Vec::new();
    let mut fenced = false;
    for (index, line) in markdown.lines().enumerate() {
        let number = index + 1;
        if line.trim_start().starts_with("```") {
            fenced = !fenced;
        }
        let level = line.chars().take_while(|c| *c == '#').count();
        let heading = !fenced && level > 0 && line[level..].starts_with(' ');
        if heading {
            let title = line[level..].trim().to_owned();
            let operations = code_spans(&title)
                .into_iter()
                .filter_map(as_operation)
                .collect();
            sections.push(Section {
                level,
                title,
                line: number,
                lines: Vec::new(),
                operations,
            });
        } else if let Some(section) = sections.last_mut() {
            section.lines.push((number, line.to_owned()));
        }
    }
    sections
}

// ---------------------------------------------------------------------------
// Reading the OpenAPI document

/// What one operation of the document promises.
#[derive(Debug)]
struct Operation {
    method: String,
    path: String,
    who: &'static str,
    statuses: BTreeSet<String>,
    body_fields: BTreeSet<String>,
    query: BTreeSet<String>,
    headers: BTreeSet<String>,
    /// The success answer's own fields (a page's: its items').
    response_fields: BTreeSet<String>,
    /// Every field name reachable from the success answers, nested ones
    /// included: what a response table may name.
    response_names: BTreeSet<String>,
}

impl Operation {
    fn label(&self) -> String {
        format!("`{} {}`", self.method, self.path)
    }
}

fn resolve<'a>(document: &'a Value, schema: &'a Value) -> &'a Value {
    let mut schema = schema;
    for _ in 0..16 {
        match schema["$ref"].as_str() {
            Some(target) => {
                let pointer = target.strip_prefix('#').unwrap_or(target);
                schema = document
                    .pointer(pointer)
                    .unwrap_or_else(|| panic!("dangling $ref {target}"));
            }
            None => break,
        }
    }
    schema
}

/// An object's fields; an array's items' fields.
fn own_fields(document: &Value, schema: &Value) -> BTreeSet<String> {
    let schema = resolve(document, schema);
    let schema = match schema.get("items") {
        Some(items) if schema["properties"].is_null() => resolve(document, items),
        _ => schema,
    };
    schema["properties"]
        .as_object()
        .map(|p| p.keys().cloned().collect())
        .unwrap_or_default()
}

fn all_names(document: &Value, schema: &Value, depth: usize, found: &mut BTreeSet<String>) {
    if depth == 0 {
        return;
    }
    let schema = resolve(document, schema);
    if let Some(properties) = schema["properties"].as_object() {
        for (name, property) in properties {
            found.insert(name.clone());
            all_names(document, property, depth - 1, found);
        }
    }
    if let Some(items) = schema.get("items") {
        all_names(document, items, depth - 1, found);
    }
    for combinator in ["allOf", "oneOf", "anyOf"] {
        for part in schema[combinator].as_array().into_iter().flatten() {
            all_names(document, part, depth - 1, found);
        }
    }
}

fn json_schema(content_holder: &Value) -> Option<&Value> {
    content_holder["content"]["application/json"]
        .get("schema")
        .filter(|s| !s.is_null())
}

fn operations(document: &Value) -> Vec<Operation> {
    let mut found = Vec::new();
    let paths = document["paths"]
        .as_object()
        .expect("the document has paths");
    for (path, item) in paths {
        for method in METHODS {
            let Some(operation) = item.get(method) else {
                continue;
            };
            let responses = operation["responses"].as_object().expect("responses");
            let statuses: BTreeSet<String> = responses.keys().cloned().collect();
            let secured = operation["security"]
                .as_array()
                .is_some_and(|s| !s.is_empty());
            let who = match (secured, statuses.contains("403")) {
                (false, _) => "anyone",
                (true, false) => "member",
                (true, true) => "admin",
            };
            let body_fields = json_schema(&operation["requestBody"])
                .map(|schema| own_fields(document, schema))
                .unwrap_or_default();
            let parameters_in = |place: &str| -> BTreeSet<String> {
                operation["parameters"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .map(|p| resolve(document, p))
                    .filter(|p| p["in"] == place)
                    .filter_map(|p| p["name"].as_str().map(str::to_owned))
                    .collect()
            };
            let mut response_fields = BTreeSet::new();
            let mut response_names = BTreeSet::new();
            for (status, response) in responses {
                if !status.starts_with('2') {
                    continue;
                }
                let Some(schema) = json_schema(resolve(document, response)) else {
                    continue;
                };
                let mut fields = own_fields(document, schema);
                // A page: `count` and `results` are the general rules'; the
                // items' fields are the operation's.
                if fields.contains("count") && fields.contains("results") {
                    let results = &resolve(document, schema)["properties"]["results"];
                    fields = own_fields(document, results);
                }
                response_fields.extend(fields);
                all_names(document, schema, 6, &mut response_names);
            }
            found.push(Operation {
                method: method.to_ascii_uppercase(),
                path: path.clone(),
                who,
                statuses,
                body_fields,
                query: parameters_in("query"),
                headers: parameters_in("header"),
                response_fields,
                response_names,
            });
        }
    }
    found
}

async fn openapi_document() -> Value {
    let app = TestApp::spawn().await;
    app.get("/api/openapi.json", None).await.expect(200)
}

// ---------------------------------------------------------------------------
// The checks

/// Compares the names a table family of `section` gives with `expected`,
/// both ways.
fn compare_names(
    problems: &mut Vec<String>,
    section: &Section,
    operation: &Operation,
    kind: &str,
    expected: &BTreeSet<String>,
) {
    let mut documented = BTreeMap::new();
    for table in section.tables_of(kind) {
        for (line, name) in table.names(problems) {
            documented.insert(name, line);
        }
    }
    for name in expected.difference(&documented.keys().cloned().collect()) {
        problems.push(format!(
            "{}: {} has the {kind} `{name}` in the OpenAPI document, but no `{kind}` table row here names it",
            section.name(),
            operation.label()
        ));
    }
    for (name, line) in &documented {
        if !expected.contains(name) {
            problems.push(format!(
                "{API_MD}:{line}: {kind} `{name}` is not one of {}'s in the OpenAPI document (it has: {})",
                operation.label(),
                list(expected)
            ));
        }
    }
}

fn list(names: &BTreeSet<String>) -> String {
    if names.is_empty() {
        "none".to_owned()
    } else {
        names.iter().cloned().collect::<Vec<_>>().join(", ")
    }
}

fn check_operation(
    problems: &mut Vec<String>,
    section: &Section,
    operation: &Operation,
    by_anchor: &BTreeMap<String, &Section>,
) {
    // Who may call it.
    let who = section
        .lines
        .iter()
        .find_map(|(_, l)| l.trim().strip_prefix("**Who:**"))
        .map(|rest| {
            rest.trim()
                .split(|c: char| !c.is_alphanumeric())
                .next()
                .unwrap_or_default()
                .to_owned()
        });
    match who {
        None => problems.push(format!(
            "{}: no `**Who:** {}` line for {}",
            section.name(),
            operation.who,
            operation.label()
        )),
        Some(who) if who != operation.who => problems.push(format!(
            "{}: says **Who:** {who}, but the OpenAPI document makes {} {} (security: {}, 403: {})",
            section.name(),
            operation.label(),
            operation.who,
            operation.who != "anyone",
            operation.who == "admin"
        )),
        Some(_) => {}
    }

    // Statuses, both ways.
    let mut documented = BTreeMap::new();
    for table in section.tables_of("status") {
        for (line, cells) in &table.rows {
            let status = cells.first().cloned().unwrap_or_default();
            if status.parse::<u16>().is_err() {
                problems.push(format!(
                    "{API_MD}:{line}: a `status` row must start with the status number, not {status:?}"
                ));
            }
            documented.insert(status, *line);
        }
    }
    for status in &operation.statuses {
        if !documented.contains_key(status) {
            problems.push(format!(
                "{}: {} answers {status} in the OpenAPI document, but its `| status | when |` table has no `| {status} |` row",
                section.name(),
                operation.label()
            ));
        }
    }
    for (status, line) in &documented {
        if !operation.statuses.contains(status) {
            problems.push(format!(
                "{API_MD}:{line}: status {status} is not documented for {} in the OpenAPI document (it lists: {})",
                operation.label(),
                list(&operation.statuses)
            ));
        }
    }

    compare_names(
        problems,
        section,
        operation,
        "body field",
        &operation.body_fields,
    );
    compare_names(
        problems,
        section,
        operation,
        "query parameter",
        &operation.query,
    );
    compare_names(
        problems,
        section,
        operation,
        "request header",
        &operation.headers,
    );

    // Response fields: here or in a section linked from here.
    let mut reachable: Vec<&Section> = vec![section];
    for target in section.anchors() {
        if let Some(linked) = by_anchor.get(&target) {
            if linked.operations.is_empty() {
                reachable.push(linked);
            }
        }
    }
    let mut described = BTreeSet::new();
    for part in &reachable {
        for table in part.tables_of("response field") {
            described.extend(table.names(problems).into_iter().map(|(_, n)| n));
        }
    }
    for field in &operation.response_fields {
        if !described.contains(field) {
            problems.push(format!(
                "{}: {} answers the field `{field}`, but no `| response field |` row names it here or in a section linked from here ({})",
                section.name(),
                operation.label(),
                reachable
                    .iter()
                    .map(|s| s.title.clone())
                    .collect::<Vec<_>>()
                    .join("; ")
            ));
        }
    }
    for table in section.tables_of("response field") {
        for (line, field) in table.names(&mut Vec::new()) {
            if !operation.response_names.contains(&field) {
                problems.push(format!(
                    "{API_MD}:{line}: response field `{field}` is not in {}'s answer in the OpenAPI document",
                    operation.label()
                ));
            }
        }
    }
}

#[actix_web::test]
async fn the_api_reference_documents_every_operation_status_and_field_and_nothing_else() {
    let document = openapi_document().await;
    let markdown = repository_file(API_MD);
    let sections = sections(&markdown);
    let operations = operations(&document);
    assert!(
        operations.len() > 10,
        "the document lists too few operations"
    );
    let mut problems = Vec::new();

    let by_anchor: BTreeMap<String, &Section> =
        sections.iter().map(|s| (anchor(&s.title), s)).collect();

    // Where the page documents each operation.
    let mut documented: BTreeMap<(String, String), Vec<&Section>> = BTreeMap::new();
    for section in &sections {
        if !section.operations.is_empty() && section.level != 3 {
            problems.push(format!(
                "{}: operations are `###` headings, this one is level {}",
                section.name(),
                section.level
            ));
        }
        for operation in &section.operations {
            documented
                .entry(operation.clone())
                .or_default()
                .push(section);
        }
    }

    // Every operation of the document, documented once, in full.
    let known: BTreeSet<(String, String)> = operations
        .iter()
        .map(|o| (o.method.clone(), o.path.clone()))
        .collect();
    for operation in &operations {
        let key = (operation.method.clone(), operation.path.clone());
        match documented.get(&key).map(Vec::as_slice) {
            None | Some([]) => problems.push(format!(
                "{API_MD} does not document {label}, an operation of the OpenAPI document: add a section headed ### {label}",
                label = operation.label()
            )),
            Some([section]) => check_operation(&mut problems, section, operation, &by_anchor),
            Some(several) => problems.push(format!(
                "{API_MD} documents {} in several sections: {}",
                operation.label(),
                several
                    .iter()
                    .map(|s| s.name())
                    .collect::<Vec<_>>()
                    .join(", ")
            )),
        }
    }

    // Nothing the document does not have.
    for ((method, path), places) in &documented {
        if known.contains(&(method.clone(), path.clone())) {
            continue;
        }
        let toggled = match path.strip_suffix('/') {
            Some(bare) if !bare.is_empty() => bare.to_owned(),
            _ => format!("{path}/"),
        };
        let hint = if known.contains(&(method.clone(), toggled.clone())) {
            format!(" (the document spells it `{method} {toggled}`)")
        } else {
            String::new()
        };
        for section in places {
            problems.push(format!(
                "{}: lists `{method} {path}`, which the OpenAPI document does not have{hint}",
                section.name()
            ));
        }
    }

    // Object sections: linked from an operation, naming only what some
    // linking operation answers.
    for section in sections.iter().filter(|s| s.operations.is_empty()) {
        let tables = section.tables_of("response field");
        if tables.is_empty() {
            continue;
        }
        let target = anchor(&section.title);
        let linking: Vec<&Operation> = operations
            .iter()
            .filter(|o| {
                documented
                    .get(&(o.method.clone(), o.path.clone()))
                    .into_iter()
                    .flatten()
                    .any(|s| s.anchors().contains(&target))
            })
            .collect();
        if linking.is_empty() {
            problems.push(format!(
                "{}: describes response fields but no operation links to it (`](#{target})`)",
                section.name()
            ));
            continue;
        }
        for table in tables {
            for (line, field) in table.names(&mut problems) {
                if !linking.iter().any(|o| o.response_names.contains(&field)) {
                    problems.push(format!(
                        "{API_MD}:{line}: response field `{field}` is in no answer of the operations linking here ({})",
                        linking
                            .iter()
                            .map(|o| o.label())
                            .collect::<Vec<_>>()
                            .join(", ")
                    ));
                }
            }
        }
    }

    // The error body and its codes.
    let schemas = &document["components"]["schemas"];
    let mut error_fields = own_fields(&document, &schemas["ErrorBody"]);
    error_fields.extend(own_fields(&document, &schemas["FieldError"]));
    assert!(
        error_fields.contains("code"),
        "the document has no ErrorBody schema"
    );
    let mut error_rows = BTreeSet::new();
    for section in &sections {
        for table in section.tables_of("error field") {
            for (line, field) in table.names(&mut problems) {
                if !error_fields.contains(&field) {
                    problems.push(format!(
                        "{API_MD}:{line}: error field `{field}` is not in the ErrorBody or FieldError schema"
                    ));
                }
                error_rows.insert(field);
            }
        }
    }
    for field in error_fields.difference(&error_rows) {
        problems.push(format!(
            "{API_MD}: the error field `{field}` (ErrorBody / FieldError in the OpenAPI document) has no `| error field |` row"
        ));
    }
    let spans: BTreeSet<&str> = code_spans(&markdown).into_iter().collect();
    let codes = schemas["ErrorBody"]["properties"]["code"]["description"]
        .as_str()
        .unwrap_or_default();
    for code in code_spans(codes) {
        if !spans.contains(code) {
            problems.push(format!(
                "{API_MD} never names the error code `{code}`, which the OpenAPI document lists"
            ));
        }
    }

    assert_no_problems("docs/api.md against GET /api/openapi.json", &problems);
}

/// The strings of `pub const NAME: [&str; N] = [...]` in a source file,
/// checked against `N` so that a change of its form cannot go unread.
fn string_array(relative: &str, name: &str) -> Vec<String> {
    let source = repository_file(relative);
    let start = format!("pub const {name}: [&str; ");
    let (_, rest) = source
        .split_once(&start)
        .unwrap_or_else(|| panic!("{relative} no longer has `{start}…`: update this test"));
    let (length, rest) = rest.split_once(']').expect("the array's length");
    let length: usize = length.trim().parse().expect("a literal length");
    let (body, _) = rest
        .split_once("];")
        .unwrap_or_else(|| panic!("{relative}: {name} does not end with `];`"));
    let names: Vec<String> = body
        .split('"')
        .skip(1)
        .step_by(2)
        .map(str::to_owned)
        .collect();
    assert_eq!(
        names.len(),
        length,
        "{relative}: read {names:?} from {name}, which declares {length} items"
    );
    names
}

#[test]
fn the_api_reference_lists_every_event_libris_emits_and_no_other() {
    let built_in = string_array("crates/domain/src/events.rs", "BUILT_IN_EVENTS");
    let markdown = repository_file(API_MD);
    let events_md = repository_file("docs/events.md");
    let mut problems = Vec::new();

    let mut listed = BTreeMap::new();
    for section in sections(&markdown) {
        for table in section.tables_of("event") {
            for (line, name) in table.names(&mut problems) {
                listed.insert(name, line);
            }
        }
    }
    for name in &built_in {
        if !listed.contains_key(name) {
            problems.push(format!(
                "{API_MD} has no `| event |` table row for `{name}` (BUILT_IN_EVENTS in crates/domain/src/events.rs)"
            ));
        }
        if !events_md.contains(&format!("`{name}`")) {
            problems.push(format!(
                "docs/events.md does not name `{name}` (BUILT_IN_EVENTS in crates/domain/src/events.rs)"
            ));
        }
    }
    for (name, line) in &listed {
        if !built_in.contains(name) {
            problems.push(format!(
                "{API_MD}:{line}: `{name}` is not an event Libris emits (BUILT_IN_EVENTS in crates/domain/src/events.rs)"
            ));
        }
    }
    assert_no_problems("events in docs/api.md", &problems);
}

#[test]
fn the_api_reference_names_every_header_a_delivery_reserves() {
    let reserved = string_array("crates/webhooks/src/headers.rs", "RESERVED_HEADERS");
    let markdown = repository_file(API_MD);
    let sections = sections(&markdown);
    let delivery = sections
        .iter()
        .find(|s| s.title == "Delivery requests")
        .unwrap_or_else(|| panic!("{API_MD} has no `### Delivery requests` section"));
    let text = delivery.text().to_ascii_lowercase();
    let problems: Vec<String> = reserved
        .iter()
        .filter(|name| !text.contains(&format!("`{}`", name.to_ascii_lowercase())))
        .map(|name| {
            format!(
                "{}: does not name the header `{name}` (RESERVED_HEADERS in crates/webhooks/src/headers.rs)",
                delivery.name()
            )
        })
        .collect();
    assert_no_problems("delivery headers in docs/api.md", &problems);
}

#[test]
fn the_api_reference_links_only_inside_the_repository() {
    let markdown = repository_file(API_MD);
    let sections = sections(&markdown);
    let anchors: BTreeSet<String> = sections.iter().map(|s| anchor(&s.title)).collect();
    let docs = repository().join("docs");
    let mut problems = Vec::new();
    for (index, line) in markdown.lines().enumerate() {
        let number = index + 1;
        for target in links(line) {
            if let Some(fragment) = target.strip_prefix('#') {
                if !anchors.contains(fragment) {
                    problems.push(format!(
                        "{API_MD}:{number}: `#{fragment}` is no heading of the page"
                    ));
                }
                continue;
            }
            let file = target.split('#').next().unwrap_or_default();
            let outside = target.contains("://")
                || target.starts_with('/')
                || target.starts_with("mailto:")
                || file.split('/').any(|part| part == "..");
            if outside {
                problems.push(format!(
                    "{API_MD}:{number}: `{target}` leads outside the repository's docs"
                ));
            } else if !docs.join(file).is_file() {
                problems.push(format!(
                    "{API_MD}:{number}: `{target}` names no file in docs/"
                ));
            }
        }
    }
    assert_no_problems("links in docs/api.md", &problems);
}
