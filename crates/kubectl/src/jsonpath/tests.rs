//! Upstream's own tables (client-go util/jsonpath jsonpath_test.go and parser_test.go, the
//! cases over plain JSON data; Go structs become JSON objects, whose keys print sorted),
//! and cases checked against client-go v0.37.2 itself (`conformance`).

use serde_json::{Value, json};

use super::parser::{Node, Param, parse};
use super::*;

/// Parses and runs `template`: the output, or the parse or execution error.
fn run_with(template: &str, data: &Value, allow_missing_keys: bool) -> Result<String, String> {
    JsonPath::parse(template)
        .map_err(|e| e.message)?
        .allow_missing_keys(allow_missing_keys)
        .execute(data)
        .map_err(|e| e.message)
}

/// A table of `(name, template, expected output or None for an error)`.
fn check(tests: &[(&str, &str, Option<&str>)], data: &Value, allow_missing_keys: bool) {
    for (name, template, want) in tests {
        let got = run_with(template, data, allow_missing_keys);
        match want {
            Some(want) => assert_eq!(got.as_deref(), Ok(*want), "{name}: {template}"),
            None => assert!(
                got.is_err(),
                "{name}: {template}: expected an error, got {got:?}"
            ),
        }
    }
}

/// `testFailJSONPath`: the templates parse; running them fails with these words.
fn check_fail(tests: &[(&str, &str, &str)], data: &Value) {
    for (name, template, want) in tests {
        let j = JsonPath::parse(template)
            .unwrap_or_else(|e| panic!("{name}: {e}"))
            .allow_missing_keys(false);
        assert_eq!(
            j.execute(data).map_err(|e| e.message),
            Err(want.to_string()),
            "{name}"
        );
    }
}

#[test]
fn types_input() {
    let types = json!({
        "bools": [true, false, true, false],
        "integers": [1, 2, 3, 4],
        "floats": [1.0, 2.2, 3.3, 4.0],
        "strings": ["one", "two", "three", "four"],
        "interfaces": [true, "one", 1, 1.1],
        "maps": [
            {"name": "one", "value": 1},
            {"name": "two", "value": 2.02},
            {"name": "three", "value": 3.03},
            {"name": "four", "value": 4.04},
        ],
    });
    check(
        &[
            ("boolSlice", "{ .bools }", Some("[true,false,true,false]")),
            ("boolSliceIndex", "{ .bools[0] }", Some("true")),
            ("boolSliceIndex", "{ .bools[-1] }", Some("false")),
            ("boolSubSlice", "{ .bools[0:2] }", Some("true false")),
            ("boolSubSliceFirst2", "{ .bools[:2] }", Some("true false")),
            ("boolSubSliceStep2", "{ .bools[:4:2] }", Some("true true")),
            ("integerSlice", "{ .integers }", Some("[1,2,3,4]")),
            ("integerSliceIndex", "{ .integers[0] }", Some("1")),
            ("integerSliceIndexReverse", "{ .integers[-2] }", Some("3")),
            ("integerSubSliceFirst2", "{ .integers[0:2] }", Some("1 2")),
            ("integerSubSliceFirst2Alt", "{ .integers[:2] }", Some("1 2")),
            ("integerSubSliceStep2", "{ .integers[:4:2] }", Some("1 3")),
            ("floatSlice", "{ .floats }", Some("[1,2.2,3.3,4]")),
            ("floatSliceIndex", "{ .floats[0] }", Some("1")),
            ("floatSliceIndexReverse", "{ .floats[-2] }", Some("3.3")),
            ("floatSubSliceFirst2", "{ .floats[0:2] }", Some("1 2.2")),
            ("floatSubSliceFirst2Alt", "{ .floats[:2] }", Some("1 2.2")),
            ("floatSubSliceStep2", "{ .floats[:4:2] }", Some("1 3.3")),
            (
                "stringSlice",
                "{ .strings }",
                Some(r#"["one","two","three","four"]"#),
            ),
            ("stringSliceIndex", "{ .strings[0] }", Some("one")),
            ("stringSliceIndexReverse", "{ .strings[-2] }", Some("three")),
            ("stringSubSliceFirst2", "{ .strings[0:2] }", Some("one two")),
            (
                "stringSubSliceFirst2Alt",
                "{ .strings[:2] }",
                Some("one two"),
            ),
            (
                "stringSubSliceStep2",
                "{ .strings[:4:2] }",
                Some("one three"),
            ),
            (
                "interfaceSlice",
                "{ .interfaces }",
                Some(r#"[true,"one",1,1.1]"#),
            ),
            ("interfaceSliceIndex", "{ .interfaces[0] }", Some("true")),
            (
                "interfaceSliceIndexReverse",
                "{ .interfaces[-2] }",
                Some("1"),
            ),
            (
                "interfaceSubSliceFirst2",
                "{ .interfaces[0:2] }",
                Some("true one"),
            ),
            (
                "interfaceSubSliceFirst2Alt",
                "{ .interfaces[:2] }",
                Some("true one"),
            ),
            (
                "interfaceSubSliceStep2",
                "{ .interfaces[:4:2] }",
                Some("true 1"),
            ),
            (
                "mapSlice",
                "{ .maps }",
                Some(
                    r#"[{"name":"one","value":1},{"name":"two","value":2.02},{"name":"three","value":3.03},{"name":"four","value":4.04}]"#,
                ),
            ),
            (
                "mapSliceIndex",
                "{ .maps[0] }",
                Some(r#"{"name":"one","value":1}"#),
            ),
            (
                "mapSliceIndexReverse",
                "{ .maps[-2] }",
                Some(r#"{"name":"three","value":3.03}"#),
            ),
            (
                "mapSubSliceFirst2",
                "{ .maps[0:2] }",
                Some(r#"{"name":"one","value":1} {"name":"two","value":2.02}"#),
            ),
            (
                "mapSubSliceFirst2Alt",
                "{ .maps[:2] }",
                Some(r#"{"name":"one","value":1} {"name":"two","value":2.02}"#),
            ),
            (
                "mapSubSliceStepOdd",
                "{ .maps[::2] }",
                Some(r#"{"name":"one","value":1} {"name":"three","value":3.03}"#),
            ),
            (
                "mapSubSliceStepEven",
                "{ .maps[1::2] }",
                Some(r#"{"name":"two","value":2.02} {"name":"four","value":4.04}"#),
            ),
        ],
        &types,
        false,
    );
}

/// `TestStructInput` with the store as JSON: maps print and recurse in key order where Go
/// structs keep their field order.
#[test]
fn store_input() {
    let store = json!({
        "Name": "jsonpath",
        "Book": [
            {"Category": "reference", "Author": "Nigel Rees", "Title": "Sayings of the Centurey", "Price": 8.95},
            {"Category": "fiction", "Author": "Evelyn Waugh", "Title": "Sword of Honour", "Price": 12.99},
            {"Category": "fiction", "Author": "Herman Melville", "Title": "Moby Dick", "Price": 8.99},
        ],
        "Bicycle": [
            {"Color": "red", "Price": 19.95, "IsNew": true},
            {"Color": "green", "Price": 20.01, "IsNew": false},
        ],
        "Labels": {"engieer": 10, "web/html": 15, "k8s-app": 20},
        "Employees": {"jason": "manager", "dan": "clerk"},
    });
    check(
        &[("plain", "hello jsonpath", Some("hello jsonpath"))],
        &Value::Null,
        false,
    );
    check(
        &[("recursive", "{..}", Some("[1,2,3]"))],
        &json!([1, 2, 3]),
        false,
    );
    check(
        &[("filter", "{[?(@<5)]}", Some("2 3"))],
        &json!([2, 6, 3, 7]),
        false,
    );
    check(&[("quote", r#"{"{"}"#, Some("{"))], &Value::Null, false);
    check(
        &[("union", "{[1,3,4]}", Some("1 3 4"))],
        &json!([0, 1, 2, 3, 4]),
        false,
    );
    check(
        &[("array", "{[0:2]}", Some("Monday Tudesday"))],
        &json!(["Monday", "Tudesday"]),
        false,
    );
    check(
        &[
            ("variable", "hello {.Name}", Some("hello jsonpath")),
            ("dict/", "{$.Labels.web/html}", Some("15")),
            ("dict/", "{$.Employees.jason}", Some("manager")),
            ("dict/", "{$.Employees.dan}", Some("clerk")),
            ("dict-", "{.Labels.k8s-app}", Some("20")),
            ("nest", "{.Bicycle[*].Color}", Some("red green")),
            (
                "allarray",
                "{.Book[*].Author}",
                Some("Nigel Rees Evelyn Waugh Herman Melville"),
            ),
            (
                "allfields",
                r#"{range .Bicycle[*]}{ "{" }{ @.* }{ "} " }{end}"#,
                Some("{red true 19.95} {green false 20.01} "),
            ),
            (
                "recurfields",
                "{..Price}",
                Some("19.95 20.01 8.95 12.99 8.99"),
            ),
            (
                "recurdotfields",
                "{...Price}",
                Some("19.95 20.01 8.95 12.99 8.99"),
            ),
            (
                "superrecurfields",
                "{............................................................Price}",
                None,
            ),
            (
                "allstructsSlice",
                "{.Bicycle}",
                Some(
                    r#"[{"Color":"red","IsNew":true,"Price":19.95},{"Color":"green","IsNew":false,"Price":20.01}]"#,
                ),
            ),
            (
                "allstructs",
                r#"{range .Bicycle[*]}{ @ }{ " " }{end}"#,
                Some(
                    r#"{"Color":"red","IsNew":true,"Price":19.95} {"Color":"green","IsNew":false,"Price":20.01} "#,
                ),
            ),
            (
                "lastarray",
                "{.Book[-1:]}",
                Some(
                    r#"{"Author":"Herman Melville","Category":"fiction","Price":8.99,"Title":"Moby Dick"}"#,
                ),
            ),
            (
                "recurarray",
                "{..Book[2]}",
                Some(
                    r#"{"Author":"Herman Melville","Category":"fiction","Price":8.99,"Title":"Moby Dick"}"#,
                ),
            ),
            (
                "bool",
                "{.Bicycle[?(@.IsNew==true)]}",
                Some(r#"{"Color":"red","IsNew":true,"Price":19.95}"#),
            ),
        ],
        &store,
        false,
    );
    check(
        &[
            ("nonexistent field", "{.hello}", Some("")),
            (
                "nonexistent field 2",
                "before-{.hello}after",
                Some("before-after"),
            ),
        ],
        &store,
        true,
    );
    check_fail(
        &[
            (
                "invalid identifier",
                "{hello}",
                "unrecognized identifier hello",
            ),
            ("nonexistent field", "{.hello}", "hello is not found"),
            (
                "invalid array",
                "{.Labels[0]}",
                "map[string]interface {} is not array or slice",
            ),
            (
                "invalid filter operator",
                "{.Book[?(@.Price<>10)]}",
                "unrecognized filter operator <>",
            ),
            (
                "redundant end",
                "{range .Labels.*}{@}{end}{end}",
                "not in range, nothing to end",
            ),
        ],
        &store,
    );
}

#[test]
fn json_input() {
    let points: Value = serde_json::from_str(
        r#"[
		{"id": "i1", "x":4, "y":-5},
		{"id": "i2", "x":-2, "y":-5, "z":1},
		{"id": "i3", "x":  8, "y":  3 },
		{"id": "i4", "x": -6, "y": -1 },
		{"id": "i5", "x":  0, "y":  2, "z": 1 },
		{"id": "i6", "x":  1, "y":  4 },
		{"id": "i7", "x":  null, "y":  4 }
	]"#,
    )
    .unwrap();
    check(
        &[
            ("exists filter", "{[?(@.z)].id}", Some("i2 i5")),
            ("bracket key", "{[0]['id']}", Some("i1")),
            ("nil value", "{[-1]['x']}", Some("null")),
        ],
        &points,
        false,
    );
}

#[test]
fn kubernetes() {
    let nodes = json!({
        "kind": "List",
        "items": [
            {
                "kind": "None",
                "metadata": {"name": "127.0.0.1", "labels": {"kubernetes.io/hostname": "127.0.0.1"}},
                "status": {
                    "capacity": {"cpu": "4"},
                    "ready": true,
                    "addresses": [{"type": "LegacyHostIP", "address": "127.0.0.1"}]
                }
            },
            {
                "kind": "None",
                "metadata": {"name": "127.0.0.2", "labels": {"kubernetes.io/hostname": "127.0.0.2"}},
                "status": {
                    "capacity": {"cpu": "8"},
                    "ready": false,
                    "addresses": [
                        {"type": "LegacyHostIP", "address": "127.0.0.2"},
                        {"type": "another", "address": "127.0.0.3"}
                    ]
                }
            }
        ],
        "users": [
            {"name": "myself", "user": {}},
            {"name": "e2e", "user": {"username": "admin", "password": "secret"}}
        ]
    });
    check(
        &[
            (
                "range item",
                "{range .items[*]}{.metadata.name}, {end}{.kind}",
                Some("127.0.0.1, 127.0.0.2, List"),
            ),
            (
                "range item with quote",
                r#"{range .items[*]}{.metadata.name}{"\t"}{end}"#,
                Some("127.0.0.1\t127.0.0.2\t"),
            ),
            (
                "range addresss",
                "{.items[*].status.addresses[*].address}",
                Some("127.0.0.1 127.0.0.2 127.0.0.3"),
            ),
            (
                "double range",
                "{range .items[*]}{range .status.addresses[*]}{.address}, {end}{end}",
                Some("127.0.0.1, 127.0.0.2, 127.0.0.3, "),
            ),
            (
                "item name",
                "{.items[*].metadata.name}",
                Some("127.0.0.1 127.0.0.2"),
            ),
            (
                "union nodes capacity",
                "{.items[*]['metadata.name', 'status.capacity']}",
                Some(r#"127.0.0.1 127.0.0.2 {"cpu":"4"} {"cpu":"8"}"#),
            ),
            (
                "range nodes capacity",
                "{range .items[*]}[{.metadata.name}, {.status.capacity}] {end}",
                Some(r#"[127.0.0.1, {"cpu":"4"}] [127.0.0.2, {"cpu":"8"}] "#),
            ),
            (
                "user password",
                r#"{.users[?(@.name=="e2e")].user.password}"#,
                Some("secret"),
            ),
            (
                "hostname",
                r"{.items[0].metadata.labels.kubernetes\.io/hostname}",
                Some("127.0.0.1"),
            ),
            (
                "hostname filter",
                r#"{.items[?(@.metadata.labels.kubernetes\.io/hostname=="127.0.0.1")].kind}"#,
                Some("None"),
            ),
            (
                "bool item",
                "{.items[?(@..ready==true)].metadata.name}",
                Some("127.0.0.1"),
            ),
        ],
        &nodes,
        false,
    );
    // `testJSONPathSortOutput`: Go prints these in random order.
    let out = run_with("{..name}", &nodes, true).unwrap();
    let mut words: Vec<&str> = out.split_whitespace().collect();
    words.sort();
    assert_eq!(words, ["127.0.0.1", "127.0.0.2", "e2e", "myself"]);
}

#[test]
fn empty_range() {
    let empty = json!({"items": []});
    check(
        &[
            (
                "empty range",
                "{range .items[*]}{.metadata.name}{end}",
                Some(""),
            ),
            (
                "empty nested range",
                r#"{range .items[*]}{.metadata.name}{":"}{range @.spec.containers[*]}{.name}{","}{end}{"+"}{end}"#,
                Some(""),
            ),
        ],
        &empty,
        true,
    );
}

#[test]
fn nested_ranges() {
    let data = json!({"items": [
        {"metadata": {"name": "pod1"}, "spec": {"containers": [
            {"name": "foo", "another": [{"name": "value1"}, {"name": "value2"}]},
            {"name": "bar", "another": [{"name": "value1"}, {"name": "value2"}]}
        ]}},
        {"metadata": {"name": "pod2"}, "spec": {"containers": [
            {"name": "baz", "another": [{"name": "value1"}, {"name": "value2"}]}
        ]}}
    ]});
    check(
        &[
            (
                "nested range with a trailing newline",
                r#"{range .items[*]}{.metadata.name}{":"}{range @.spec.containers[*]}{.name}{","}{end}{"+"}{end}"#,
                Some("pod1:foo,bar,+pod2:baz,+"),
            ),
            (
                "nested range with a trailing character within another nested range with a trailing newline",
                r##"{range .items[*]}{.metadata.name}{"~"}{range @.spec.containers[*]}{.name}{":"}{range @.another[*]}{.name}{","}{end}{"+"}{end}{"#"}{end}"##,
                Some("pod1~foo:value1,value2,+bar:value1,value2,+#pod2~baz:value1,value2,+#"),
            ),
            (
                "two nested ranges at the same level with a trailing newline",
                r#"{range .items[*]}{.metadata.name}{"\t"}{range @.spec.containers[*]}{.name}{" "}{end}{"\t"}{range @.spec.containers[*]}{.name}{" "}{end}{"\n"}{end}"#,
                Some("pod1\tfoo bar \tfoo bar \npod2\tbaz \tbaz \n"),
            ),
        ],
        &data,
        false,
    );
}

#[test]
fn filter_partial_matches_sometimes_missing_annotations() {
    let data = json!({"kind": "List", "items": [
        {"kind": "Pod", "metadata": {"name": "pod1", "annotations": {"color": "blue"}}},
        {"kind": "Pod", "metadata": {"name": "pod2"}},
        {"kind": "Pod", "metadata": {"name": "pod3", "annotations": {"color": "green"}}},
        {"kind": "Pod", "metadata": {"name": "pod4", "annotations": {"color": "blue"}}}
    ]});
    let template = r#"{.items[?(@.metadata.annotations.color=="blue")].metadata.name}"#;
    check(
        &[("tolerate missing", template, Some("pod1 pod4"))],
        &data,
        true,
    );
    check(&[("error on missing", template, None)], &data, false);
}

fn containers(n: usize) -> Value {
    let list: Vec<Value> = (0..n)
        .map(|i| json!({"image": "radial/busyboxplus:curl", "name": format!("fake{i}")}))
        .collect();
    json!({"apiVersion": "v1", "kind": "Pod", "spec": {"containers": list}})
}

#[test]
fn negative_index() {
    check(
        &[
            ("containers[0]", "{.spec.containers[0].name}", Some("fake0")),
            ("containers[0:0]", "{.spec.containers[0:0].name}", Some("")),
            (
                "containers[0:-1]",
                "{.spec.containers[0:-1].name}",
                Some("fake0 fake1 fake2"),
            ),
            ("containers[-1:0]", "{.spec.containers[-1:0].name}", None),
            (
                "containers[-1]",
                "{.spec.containers[-1].name}",
                Some("fake3"),
            ),
            (
                "containers[-1:]",
                "{.spec.containers[-1:].name}",
                Some("fake3"),
            ),
            (
                "containers[-2]",
                "{.spec.containers[-2].name}",
                Some("fake2"),
            ),
            (
                "containers[-2:]",
                "{.spec.containers[-2:].name}",
                Some("fake2 fake3"),
            ),
            (
                "containers[-3]",
                "{.spec.containers[-3].name}",
                Some("fake1"),
            ),
            (
                "containers[-4]",
                "{.spec.containers[-4].name}",
                Some("fake0"),
            ),
            (
                "containers[-4:]",
                "{.spec.containers[-4:].name}",
                Some("fake0 fake1 fake2 fake3"),
            ),
            ("containers[-5]", "{.spec.containers[-5].name}", None),
            ("containers[5:5]", "{.spec.containers[5:5].name}", Some("")),
            (
                "containers[-5:-5]",
                "{.spec.containers[-5:-5].name}",
                Some(""),
            ),
            ("containers[3:1]", "{.spec.containers[3:1].name}", None),
            ("containers[-1:-2]", "{.spec.containers[-1:-2].name}", None),
        ],
        &containers(4),
        false,
    );
}

#[test]
fn running_pods() {
    let data = json!({"kind": "List", "items": [
        {"kind": "Pod", "metadata": {"name": "pod1"}, "status": {"phase": "Running"}},
        {"kind": "Pod", "metadata": {"name": "pod2"}, "status": {"phase": "Running"}},
        {"kind": "Pod", "metadata": {"name": "pod3"}, "status": {"phase": "Running"}},
        {"resourceVersion": ""}
    ]});
    check(
        &[(
            "range over pods without selecting the last one",
            r#"{range .items[?(.status.phase=="Running")]}{.metadata.name}{" is Running\n"}{end}"#,
            Some("pod1 is Running\npod2 is Running\npod3 is Running\n"),
        )],
        &data,
        true,
    );
}

#[test]
fn step() {
    let all = Some("fake0 fake1 fake2 fake3 fake4 fake5");
    check(
        &[
            ("containers[0:]", "{.spec.containers[0:].name}", all),
            ("containers[0:6:]", "{.spec.containers[0:6:].name}", all),
            ("containers[0:6:1]", "{.spec.containers[0:6:1].name}", all),
            ("containers[0:6:0]", "{.spec.containers[0:6:0].name}", None),
            (
                "containers[0:6:-1]",
                "{.spec.containers[0:6:-1].name}",
                None,
            ),
            (
                "containers[1:4:2]",
                "{.spec.containers[1:4:2].name}",
                Some("fake1 fake3"),
            ),
            (
                "containers[1:4:3]",
                "{.spec.containers[1:4:3].name}",
                Some("fake1"),
            ),
            (
                "containers[1:4:4]",
                "{.spec.containers[1:4:4].name}",
                Some("fake1"),
            ),
            (
                "containers[0:6:2]",
                "{.spec.containers[0:6:2].name}",
                Some("fake0 fake2 fake4"),
            ),
            (
                "containers[0:6:3]",
                "{.spec.containers[0:6:3].name}",
                Some("fake0 fake3"),
            ),
            (
                "containers[0:6:5]",
                "{.spec.containers[0:6:5].name}",
                Some("fake0 fake5"),
            ),
            (
                "containers[0:6:6]",
                "{.spec.containers[0:6:6].name}",
                Some("fake0"),
            ),
        ],
        &containers(6),
        false,
    );
}

fn field(s: &str) -> Node {
    Node::Field(s.into())
}

fn text(s: &str) -> Node {
    Node::Text(s.into())
}

fn array(p: [(i64, bool, bool); 3]) -> Node {
    Node::Array(p.map(|(value, known, derived)| Param {
        value,
        known,
        derived,
    }))
}

fn filter(left: Vec<Node>, op: &str, right: Vec<Node>) -> Node {
    Node::Filter {
        left,
        right,
        op: op.into(),
    }
}

/// parser_test.go `parserTests`, as trees.
#[test]
fn parser() {
    let os_image = || vec![field("status"), field("nodeInfo"), field("osImage")];
    let cases: Vec<(&str, Vec<Node>)> = vec![
        ("hello jsonpath", vec![text("hello jsonpath")]),
        (
            "hello {.jsonpath}",
            vec![text("hello "), Node::List(vec![field("jsonpath")])],
        ),
        (
            "hello {['jsonpath']}",
            vec![text("hello "), Node::List(vec![field("jsonpath")])],
        ),
        (r#"{"{"}"#, vec![Node::List(vec![text("{")])]),
        (
            "{[1:3]}",
            vec![Node::List(vec![array([
                (1, true, false),
                (3, true, false),
                (0, false, false),
            ])])],
        ),
        (
            "{.book[*].author}",
            vec![Node::List(vec![
                field("book"),
                array([(0, false, false), (0, false, false), (0, false, false)]),
                field("author"),
            ])],
        ),
        (
            "{.bicycle.*}",
            vec![Node::List(vec![field("bicycle"), Node::Wildcard])],
        ),
        (
            "{[?(@.price<3)]}",
            vec![Node::List(vec![filter(
                vec![field("price")],
                "<",
                vec![Node::Int(3)],
            )])],
        ),
        ("{..}", vec![Node::List(vec![Node::Recursive])]),
        (
            "{..price}",
            vec![Node::List(vec![Node::Recursive, field("price")])],
        ),
        (
            "{['book.price']}",
            vec![Node::List(vec![field("book"), field("price")])],
        ),
        (
            "{['bicycle.price', 3, 'book.price']}",
            vec![Node::List(vec![Node::Union(vec![
                vec![field("bicycle"), field("price")],
                vec![array([
                    (3, true, false),
                    (4, true, true),
                    (0, false, false),
                ])],
                vec![field("book"), field("price")],
            ])])],
        ),
        (
            "{range .items}{.name},{end}",
            vec![
                Node::List(vec![Node::Identifier("range".into()), field("items")]),
                Node::List(vec![field("name")]),
                text(","),
                Node::List(vec![Node::Identifier("end".into())]),
            ],
        ),
        (
            r#"{[?(@.status.nodeInfo.osImage == "()")]}"#,
            vec![Node::List(vec![filter(os_image(), "==", vec![text("()")])])],
        ),
        (
            r#"{[?(@.status.nodeInfo.osImage == "(\"\")")]}"#,
            vec![Node::List(vec![filter(
                os_image(),
                "==",
                vec![text("(\"\")")],
            )])],
        ),
        (
            r#"{[?(@.test == "())(")]}"#,
            vec![Node::List(vec![filter(
                vec![field("test")],
                "==",
                vec![text("())(")],
            )])],
        ),
        (
            "{[?(@.status.nodeInfo.osImage == 'Linux')]}",
            vec![Node::List(vec![filter(
                os_image(),
                "==",
                vec![text("Linux")],
            )])],
        ),
        (
            r#"{[?(@.status.nodeInfo.osImage == "{[()]}")]}"#,
            vec![Node::List(vec![filter(
                os_image(),
                "==",
                vec![text("{[()]}")],
            )])],
        ),
        (
            r#"{[?(@.status.nodeInfo.osImage == "''")]}"#,
            vec![Node::List(vec![filter(os_image(), "==", vec![text("''")])])],
        ),
        (
            r#"{[?(@.status.nodeInfo.osImage == '""')]}"#,
            vec![Node::List(vec![filter(
                os_image(),
                "==",
                vec![text("\"\"")],
            )])],
        ),
        (
            r"{[?(@.status.nodeInfo.osImage == '\\\'')]}",
            vec![Node::List(vec![filter(
                os_image(),
                "==",
                vec![text("\\'")],
            )])],
        ),
        (
            "{[-5:]}",
            vec![Node::List(vec![array([
                (-5, true, false),
                (0, false, false),
                (0, false, false),
            ])])],
        ),
        (
            "{[-1]}",
            vec![Node::List(vec![array([
                (-1, true, false),
                (0, true, true),
                (0, false, false),
            ])])],
        ),
        (
            "{[1:-1]}",
            vec![Node::List(vec![array([
                (1, true, false),
                (-1, true, false),
                (0, false, false),
            ])])],
        ),
    ];
    for (template, want) in cases {
        assert_eq!(parse(template), Ok(want), "{template}");
    }
    assert!(parse(r"{\\\}").is_err(), "malformat input");
}

#[test]
fn fail_parser() {
    for (template, want) in [
        ("{.hello", "unclosed action"),
        ("{*}", "unrecognized character in action: U+002A '*'"),
        ("{+12.3.0}", "cannot parse number +12.3.0"),
        ("{[1}", "unterminated array"),
        ("{[?(.price]}", "unterminated filter"),
        ("{........}", "invalid multiple recursive descent"),
    ] {
        assert_eq!(
            JsonPath::parse(template).unwrap_err().message,
            want,
            "{template}"
        );
    }
}

/// customcolumn_test.go `TestMassageJSONPath`.
#[test]
fn relaxed_expressions() {
    for (input, want) in [
        ("foo.bar", Some("{.foo.bar}")),
        ("{foo.bar}", Some("{.foo.bar}")),
        (".foo.bar", Some("{.foo.bar}")),
        ("{.foo.bar}", Some("{.foo.bar}")),
        ("", Some("")),
        ("{foo.bar", None),
        ("foo.bar}", None),
        ("{foo.bar}}", None),
        ("{{foo.bar}", None),
        // The regular expression's backtracking: a lone `.` is the field.
        (".", Some("{..}")),
        ("{.}", Some("{..}")),
        ("{}", None),
    ] {
        assert_eq!(
            relaxed_json_path_expression(input).ok().as_deref(),
            want,
            "{input}"
        );
    }
}

#[test]
fn as_json() {
    let data = json!({"items": [{"n": "a"}, {"n": "b<"}], "x": 1.5});
    let j = JsonPath::parse("{.items[*].n}{.x}{.nope}").unwrap();
    assert_eq!(
        j.execute_as_json(&data).unwrap(),
        "[\n    \"a\",\n    \"b\\u003c\"\n]\n[\n    1.5\n]\n[]\n"
    );
}

/// Templates run through client-go v0.37.2 itself (see `conformance.rs`).
#[test]
fn conformance() {
    let words = |s: &str| {
        let mut w: Vec<String> = s.split([' ', ',']).map(str::to_string).collect();
        w.sort();
        w
    };
    for (data, strict, template, ordered, want) in super::conformance::JSONPATH {
        let data: Value = serde_json::from_str(data).unwrap();
        let got = match JsonPath::parse(template) {
            Err(e) => Err(format!("parse: {e}")),
            Ok(j) => j
                .allow_missing_keys(!strict)
                .execute(&data)
                .map_err(|e| format!("exec: {e}")),
        };
        let want = want.map_err(str::to_string).map(str::to_string);
        if *ordered {
            assert_eq!(got, want, "{template}");
        } else {
            assert_eq!(
                got.map(|s| words(&s)),
                want.map(|s| words(&s)),
                "{template}"
            );
        }
    }
}

/// Parses and runs `template` every way; only errors may come out.
fn run_every_way(template: &str) {
    if let Ok(j) = JsonPath::parse(template) {
        let data =
            json!({"a": [1, {"b": "x"}, null, [2], -1.5], "b": {"c": "d", "e": null}, "c": "s"});
        let _ = j.execute(&data);
        let _ = j.clone().allow_missing_keys(false).execute(&data);
        let _ = j.execute_as_json(&data);
        let mut column = j.column();
        let _ = column.cell(&data);
        let _ = column.cell(&json!([data, null]));
    }
}

proptest::proptest! {
    /// Every template parses or fails with an error; none panics when run.
    #[test]
    fn never_panics(template in "[{}\\[\\]().,:*?@$'\"=<>!\\\\ a-c0-2-]{0,24}") {
        run_every_way(&template);
    }

    /// The same with the words and operators of real templates.
    #[test]
    fn never_panics_on_template_words(
        words in proptest::collection::vec(
            proptest::prop_oneof![
                proptest::strategy::Just("{"), proptest::strategy::Just("}"),
                proptest::strategy::Just("range "), proptest::strategy::Just("end"),
                proptest::strategy::Just(".a"), proptest::strategy::Just(".b"),
                proptest::strategy::Just(".c"), proptest::strategy::Just(".."),
                proptest::strategy::Just("[*]"), proptest::strategy::Just("[0]"),
                proptest::strategy::Just("[-1:]"), proptest::strategy::Just("[1:9:2]"),
                proptest::strategy::Just("[0,'b']"), proptest::strategy::Just(".*"),
                proptest::strategy::Just("[?(@.b==\"x\")]"), proptest::strategy::Just("[?(@.b)]"),
                proptest::strategy::Just("[?(@<2)]"), proptest::strategy::Just("@"),
                proptest::strategy::Just("\"\\n\""), proptest::strategy::Just(" "),
                proptest::strategy::Just("true"), proptest::strategy::Just("3"),
            ],
            0..12,
        )
    ) {
        run_every_way(&words.concat());
    }
}
