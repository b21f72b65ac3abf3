//! The executor, a port of k8s.io/client-go/util/jsonpath/jsonpath.go (`FindResults`,
//! `walk` and the `eval*` functions) with the comparisons of
//! client-go/third_party/forked/golang/template/funcs.go.
//!
//! Values keep their Go kinds: data from the object (`map[string]interface{}`, `int64`,
//! `float64`, ...) and literals of the template (`string`, `int`, `float64`, `bool`), plus
//! the `uint8` bytes a wildcard makes of a string and the invalid value of a `range` over
//! nothing. Maps are visited in key order (Go's order is random).

use std::cmp::Ordering;

use serde_json::Value;

use super::gofmt::{GoNumber, go_number, number_v, sorted, value_v};
use super::parser::{Node, Param};

/// One value the engine handles (a `reflect.Value`).
#[derive(Debug, Clone)]
pub(super) enum Item<'a> {
    /// `reflect.ValueOf(nil)`: the data of a `range` item that is `null`, or of a `range`
    /// over nothing.
    Invalid,
    /// A value of the data; `null` is a nil interface.
    Json(&'a Value),
    /// A string literal.
    Str(String),
    /// An integer literal (Go `int`).
    Int(i64),
    /// A float literal.
    Float(f64),
    /// A boolean literal.
    Bool(bool),
    /// A byte of a string (Go `uint8`), from a wildcard over the string.
    Byte(u8),
}

impl<'a> Item<'a> {
    /// `template.Indirect`'s nil test: a nil interface.
    fn is_nil(&self) -> bool {
        matches!(self, Item::Json(Value::Null))
    }

    /// `value.Interface()` passed back to `FindResults` by a `range`.
    fn into_root(self) -> Item<'a> {
        if self.is_nil() { Item::Invalid } else { self }
    }

    /// The elements a wildcard or a recursive descent visits: a map's values (in key
    /// order), an array's elements, a string's bytes.
    fn children(&self) -> Vec<Item<'a>> {
        match self {
            Item::Json(Value::Object(m)) => {
                sorted(m).into_iter().map(|(_, v)| Item::Json(v)).collect()
            }
            Item::Json(Value::Array(a)) => a.iter().map(Item::Json).collect(),
            Item::Json(Value::String(s)) => s.bytes().map(Item::Byte).collect(),
            Item::Str(s) => s.bytes().map(Item::Byte).collect(),
            _ => vec![],
        }
    }

    /// The Go type's name, as `%v` of `reflect.Type` prints it.
    fn type_name(&self) -> &'static str {
        match self {
            Item::Invalid => "<nil>",
            Item::Json(Value::Null) => "interface {}",
            Item::Json(Value::Object(_)) => "map[string]interface {}",
            Item::Json(Value::Array(_)) => "[]interface {}",
            Item::Json(Value::String(_)) | Item::Str(_) => "string",
            Item::Json(Value::Bool(_)) | Item::Bool(_) => "bool",
            Item::Json(Value::Number(n)) => match go_number(n) {
                GoNumber::Int(_) => "int64",
                GoNumber::Float(_) => "float64",
            },
            Item::Int(_) => "int",
            Item::Float(_) => "float64",
            Item::Byte(_) => "uint8",
        }
    }

    /// `fmt.Sprint` of the value (`%v`).
    pub(super) fn text_v(&self) -> String {
        match self {
            Item::Invalid => "<invalid reflect.Value>".into(),
            Item::Json(v) => value_v(v),
            Item::Str(s) => s.clone(),
            Item::Int(i) => i.to_string(),
            Item::Float(f) => number_v(GoNumber::Float(*f)),
            Item::Bool(b) => b.to_string(),
            Item::Byte(b) => b.to_string(),
        }
    }

    /// The value as JSON (for `json.Marshal`).
    pub(super) fn to_json(&self) -> Value {
        match self {
            Item::Invalid => Value::Null,
            Item::Json(v) => (*v).clone(),
            Item::Str(s) => Value::String(s.clone()),
            Item::Int(i) => Value::from(*i),
            Item::Float(f) => serde_json::Number::from_f64(*f).map_or(Value::Null, Value::Number),
            Item::Bool(b) => Value::Bool(*b),
            Item::Byte(b) => Value::from(*b),
        }
    }

    /// The comparable value (`basicKind`), or `invalid type for comparison`.
    fn basic(&self) -> Result<Basic<'_>, &'static str> {
        Ok(match self {
            Item::Json(Value::String(s)) => Basic::Str(s),
            Item::Str(s) => Basic::Str(s),
            Item::Json(Value::Bool(b)) => Basic::Bool(*b),
            Item::Bool(b) => Basic::Bool(*b),
            Item::Json(Value::Number(n)) => match go_number(n) {
                GoNumber::Int(i) => Basic::Int(i),
                GoNumber::Float(f) => Basic::Float(f),
            },
            Item::Int(i) => Basic::Int(*i),
            Item::Float(f) => Basic::Float(*f),
            Item::Byte(b) => Basic::Uint(u64::from(*b)),
            _ => return Err(BAD_TYPE),
        })
    }
}

const BAD_TYPE: &str = "invalid type for comparison";
const BAD_COMPARISON: &str = "incompatible types for comparison";

/// A value of one of `template`'s basic kinds.
#[derive(Debug, Clone, Copy)]
enum Basic<'x> {
    Bool(bool),
    Int(i64),
    Uint(u64),
    Float(f64),
    Str(&'x str),
}

/// `template.Equal`.
fn equal(a: Basic, b: Basic) -> Result<bool, &'static str> {
    Ok(match (a, b) {
        (Basic::Int(x), Basic::Uint(y)) | (Basic::Uint(y), Basic::Int(x)) => {
            x >= 0 && x as u64 == y
        }
        (Basic::Bool(x), Basic::Bool(y)) => x == y,
        (Basic::Int(x), Basic::Int(y)) => x == y,
        (Basic::Uint(x), Basic::Uint(y)) => x == y,
        (Basic::Float(x), Basic::Float(y)) => x == y,
        (Basic::Str(x), Basic::Str(y)) => x == y,
        _ => return Err(BAD_COMPARISON),
    })
}

/// `template.Less`.
fn less(a: Basic, b: Basic) -> Result<bool, &'static str> {
    Ok(match (a, b) {
        (Basic::Int(x), Basic::Uint(y)) => x < 0 || (x as u64) < y,
        (Basic::Uint(x), Basic::Int(y)) => y >= 0 && x < y as u64,
        (Basic::Bool(_), Basic::Bool(_)) => return Err(BAD_TYPE),
        (Basic::Int(x), Basic::Int(y)) => x < y,
        (Basic::Uint(x), Basic::Uint(y)) => x < y,
        (Basic::Float(x), Basic::Float(y)) => x.partial_cmp(&y) == Some(Ordering::Less),
        (Basic::Str(x), Basic::Str(y)) => x < y,
        _ => return Err(BAD_COMPARISON),
    })
}

/// A filter's comparison (`evalFilter`'s operator switch).
fn compare(op: &str, left: &Item, right: &Item) -> Result<bool, String> {
    let unrecognized = || format!("unrecognized filter operator {op}");
    if !matches!(op, "<" | ">" | "==" | "!=" | "<=" | ">=") {
        return Err(unrecognized());
    }
    let a = left.basic()?;
    let b = right.basic()?;
    let le = |a, b| -> Result<bool, &'static str> { Ok(less(a, b)? || equal(a, b)?) };
    Ok(match op {
        "<" => less(a, b)?,
        ">" => !le(a, b)?,
        "==" => equal(a, b)?,
        "!=" => !equal(a, b)?,
        "<=" => le(a, b)?,
        _ => !less(a, b)?,
    })
}

/// A failed evaluation: the message and the values upstream returns along with it (an
/// existence filter counts them).
#[derive(Debug)]
pub(super) struct Fail<'a> {
    pub(super) values: Vec<Item<'a>>,
    pub(super) msg: String,
}

fn fail<'a, T>(values: Vec<Item<'a>>, msg: impl Into<String>) -> Result<T, Fail<'a>> {
    Err(Fail {
        values,
        msg: msg.into(),
    })
}

type Eval<'a> = Result<Vec<Item<'a>>, Fail<'a>>;

/// The state of one `JSONPath` object: the `range` counters and the root nodes still to
/// run, which upstream keeps from one `FindResults` to the next.
#[derive(Debug, Clone)]
pub(super) struct Executor<'t> {
    nodes: &'t [Node],
    root_start: usize,
    begin_range: usize,
    in_range: usize,
    end_range: usize,
    last_end: Option<usize>,
    allow_missing_keys: bool,
}

impl<'t> Executor<'t> {
    pub(super) fn new(nodes: &'t [Node], allow_missing_keys: bool) -> Self {
        Executor {
            nodes,
            root_start: 0,
            begin_range: 0,
            in_range: 0,
            end_range: 0,
            last_end: None,
            allow_missing_keys,
        }
    }

    /// `FindResults`: one list of values per root node run (text, action, range item).
    pub(super) fn find_results<'a>(
        &mut self,
        data: Item<'a>,
    ) -> Result<Vec<Vec<Item<'a>>>, String> {
        let start = self.root_start;
        let end = self.nodes.len();
        let nodes = self.nodes;
        let cur = vec![data];
        let mut full = vec![];
        let mut i = start;
        while i < end {
            let results = self.walk(&cur, &nodes[i]).map_err(|f| f.msg)?;
            if self.end_range > 0 && self.end_range <= self.in_range {
                self.end_range -= 1;
                self.last_end = Some(i);
                break;
            }
            if self.begin_range > 0 {
                self.begin_range -= 1;
                self.in_range += 1;
                if results.is_empty() {
                    // The nodes of the range still run, to find its end.
                    self.root_start = i + 1;
                    self.find_results(Item::Invalid)?;
                } else {
                    for value in results {
                        self.root_start = i + 1;
                        full.extend(self.find_results(value.into_root())?);
                    }
                }
                self.in_range -= 1;
                // Resume after the range's end node, if it was found among the nodes left.
                if let Some(k) = self.last_end.filter(|k| (i + 1..end).contains(k)) {
                    i = k;
                }
                i += 1;
                continue;
            }
            full.push(results);
            i += 1;
        }
        Ok(full)
    }

    fn walk<'a>(&mut self, input: &[Item<'a>], node: &Node) -> Eval<'a> {
        match node {
            Node::List(nodes) => self.eval_list(input, nodes),
            Node::Text(t) => Ok(vec![Item::Str(t.clone())]),
            Node::Field(name) => self.eval_field(input, name),
            Node::Array(params) => eval_array(input, *params),
            Node::Filter { left, right, op } => self.eval_filter(input, left, right, op),
            Node::Int(i) => Ok(vec![Item::Int(*i); input.len()]),
            Node::Float(f) => Ok(vec![Item::Float(*f); input.len()]),
            Node::Bool(b) => Ok(vec![Item::Bool(*b); input.len()]),
            Node::Wildcard => Ok(input
                .iter()
                .filter(|v| !v.is_nil())
                .flat_map(Item::children)
                .collect()),
            Node::Recursive => Ok(eval_recursive(input)),
            Node::Union(lists) => {
                let mut result = vec![];
                for list in lists {
                    match self.eval_list(input, list) {
                        Ok(v) => result.extend(v),
                        Err(f) => return fail(input.to_vec(), f.msg),
                    }
                }
                Ok(result)
            }
            Node::Identifier(name) => self.eval_identifier(input, name),
        }
    }

    fn eval_list<'a>(&mut self, input: &[Item<'a>], nodes: &[Node]) -> Eval<'a> {
        let mut cur = input.to_vec();
        for node in nodes {
            cur = self.walk(&cur, node)?;
        }
        Ok(cur)
    }

    fn eval_identifier<'a>(&mut self, input: &[Item<'a>], name: &str) -> Eval<'a> {
        match name {
            "range" => {
                self.begin_range += 1;
                Ok(input.to_vec())
            }
            "end" if self.in_range > 0 => {
                self.end_range += 1;
                Ok(vec![])
            }
            "end" => fail(vec![], "not in range, nothing to end"),
            _ => fail(input.to_vec(), format!("unrecognized identifier {name}")),
        }
    }

    fn eval_field<'a>(&self, input: &[Item<'a>], name: &str) -> Eval<'a> {
        if input.is_empty() {
            return Ok(vec![]);
        }
        let results: Vec<Item<'a>> = input
            .iter()
            .filter_map(|v| match v {
                Item::Json(Value::Object(m)) => m.get(name).map(Item::Json),
                _ => None,
            })
            .collect();
        if results.is_empty() && !self.allow_missing_keys {
            return fail(vec![], format!("{name} is not found"));
        }
        Ok(results)
    }

    fn eval_filter<'a>(
        &mut self,
        input: &[Item<'a>],
        left: &[Node],
        right: &[Node],
        op: &str,
    ) -> Eval<'a> {
        let mut results = vec![];
        for value in input {
            let Item::Json(Value::Array(elements)) = value else {
                let shown = match value {
                    Item::Json(Value::Null) => "<nil>".to_string(),
                    other => other.text_v(),
                };
                return fail(
                    input.to_vec(),
                    format!("{shown} is not array or slice and cannot be filtered"),
                );
            };
            for element in elements {
                let temp = [Item::Json(element)];
                let lefts = self.eval_list(&temp, left);
                if op == "exists" {
                    let found = match &lefts {
                        Ok(v) => !v.is_empty(),
                        Err(f) => !f.values.is_empty(),
                    };
                    if found {
                        results.push(Item::Json(element));
                    }
                    continue;
                }
                let lefts = match lefts {
                    Ok(v) => v,
                    Err(f) => return fail(input.to_vec(), f.msg),
                };
                let l = match lefts.as_slice() {
                    [] => continue,
                    [one] => one,
                    _ => return fail(input.to_vec(), "can only compare one element at a time"),
                };
                let rights = match self.eval_list(&temp, right) {
                    Ok(v) => v,
                    Err(f) => return fail(input.to_vec(), f.msg),
                };
                let r = match rights.as_slice() {
                    [] => continue,
                    [one] => one,
                    _ => return fail(input.to_vec(), "can only compare one element at a time"),
                };
                match compare(op, l, r) {
                    Ok(true) => results.push(Item::Json(element)),
                    Ok(false) => {}
                    Err(msg) => return fail(results, msg),
                }
            }
        }
        Ok(results)
    }
}

/// `evalArray`: an index or a slice of each array; an empty slice ends the evaluation
/// with what was found so far, as upstream's early return does.
fn eval_array<'a>(input: &[Item<'a>], params: [Param; 3]) -> Eval<'a> {
    let mut result = vec![];
    for value in input {
        if value.is_nil() {
            continue;
        }
        let Item::Json(Value::Array(elements)) = value else {
            let msg = match value {
                Item::Invalid => "reflect: call of reflect.Value.Type on zero Value".to_string(),
                other => format!("{} is not array or slice", other.type_name()),
            };
            return fail(input.to_vec(), msg);
        };
        let len = elements.len() as i64;
        let mut p = params;
        if !p[0].known {
            p[0].value = 0;
        }
        if p[0].value < 0 {
            p[0].value = p[0].value.wrapping_add(len);
        }
        if !p[1].known {
            p[1].value = len;
        }
        if p[1].value < 0 || (p[1].value == 0 && p[1].derived) {
            p[1].value = p[1].value.wrapping_add(len);
        }
        if p[1].value == p[0].value {
            return Ok(result);
        }
        if p[0].value >= len || p[0].value < 0 {
            return fail(
                input.to_vec(),
                format!(
                    "array index out of bounds: index {}, length {len}",
                    p[0].value
                ),
            );
        }
        if p[1].value > len || p[1].value < 0 {
            return fail(
                input.to_vec(),
                format!(
                    "array index out of bounds: index {}, length {len}",
                    p[1].value.wrapping_sub(1)
                ),
            );
        }
        if p[0].value > p[1].value {
            return fail(
                input.to_vec(),
                format!(
                    "starting index {} is greater than ending index {}",
                    p[0].value, p[1].value
                ),
            );
        }
        let step = if p[2].known {
            if p[2].value <= 0 {
                return fail(input.to_vec(), "step must be > 0");
            }
            usize::try_from(p[2].value).unwrap_or(usize::MAX)
        } else {
            1
        };
        let slice = &elements[p[0].value as usize..p[1].value as usize];
        result.extend(slice.iter().step_by(step).map(Item::Json));
    }
    Ok(result)
}

/// `evalRecursive`: each value that has elements, then its descendants, depth first.
fn eval_recursive<'a>(input: &[Item<'a>]) -> Vec<Item<'a>> {
    let mut result = vec![];
    for value in input {
        if value.is_nil() {
            continue;
        }
        let children = value.children();
        if !children.is_empty() {
            result.push(value.clone());
            result.extend(eval_recursive(&children));
        }
    }
    result
}
