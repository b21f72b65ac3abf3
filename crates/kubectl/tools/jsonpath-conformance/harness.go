// A harness around client-go util/jsonpath (v0.37.2) for run.sh: reads JSON lines
// {"t": template, "d": JSON data, "mode": "jp"|"strict"|"cc"|"sharpv"} and answers with
// {"out", "err", "perr", "panic"}. Data is decoded as unstructured content (int64 or float64
// numbers); "cc" mode is kubectl's CustomColumnsPrinter (customcolumn.go) over a List.

package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"regexp"
	"strings"
	"text/tabwriter"

	"jph/jsonpath"
)

// Reads JSON lines {"t": template, "d": data-json-text, "mode": "jp"|"cc"}; prints JSON lines {"out":..., "err":...}.
func main() {
	sc := bufio.NewScanner(os.Stdin)
	sc.Buffer(make([]byte, 1<<20), 1<<24)
	enc := json.NewEncoder(os.Stdout)
	enc.SetEscapeHTML(false)
	for sc.Scan() {
		var in struct {
			T    string `json:"t"`
			D    string `json:"d"`
			Mode string `json:"mode"`
		}
		if err := json.Unmarshal(sc.Bytes(), &in); err != nil {
			panic(err)
		}
		var data interface{}
		if in.D != "" {
			dec := json.NewDecoder(strings.NewReader(in.D))
			dec.UseNumber()
			if err := dec.Decode(&data); err != nil {
				panic(err)
			}
			data = convert(data)
		}
		res := map[string]string{}
		if in.Mode == "cc" {
			out, err := customColumns(in.T, data)
			res["out"] = out
			if err != nil {
				res["err"] = err.Error()
			}
		} else if in.Mode == "sharpv" {
			res["out"] = fmt.Sprintf("%#v", data)
		} else {
			j := jsonpath.New("out")
			j.AllowMissingKeys(in.Mode != "strict")
			if err := j.Parse(in.T); err != nil {
				res["perr"] = err.Error()
			} else {
				var buf bytes.Buffer
				func() {
					defer func() {
						if r := recover(); r != nil {
							res["panic"] = fmt.Sprint(r)
						}
					}()
					if err := j.Execute(&buf, data); err != nil {
						res["err"] = err.Error()
					}
				}()
				res["out"] = buf.String()
			}
		}
		enc.Encode(res)
	}
}

// like unstructured: json.Number -> int64 or float64
func convert(v interface{}) interface{} {
	switch x := v.(type) {
	case map[string]interface{}:
		for k, e := range x {
			x[k] = convert(e)
		}
		return x
	case []interface{}:
		for i, e := range x {
			x[i] = convert(e)
		}
		return x
	case json.Number:
		if i, err := x.Int64(); err == nil {
			return i
		}
		f, _ := x.Float64()
		return f
	}
	return v
}

var jsonRegexp = regexp.MustCompile(`^\{\.?([^{}]+)\}$|^\.?([^{}]+)$`)

func relaxed(pathExpression string) (string, error) {
	if len(pathExpression) == 0 {
		return pathExpression, nil
	}
	submatches := jsonRegexp.FindStringSubmatch(pathExpression)
	if submatches == nil {
		return "", fmt.Errorf("unexpected path string, expected a 'name1.name2' or '.name1.name2' or '{name1.name2}' or '{.name1.name2}'")
	}
	var fieldSpec string
	if len(submatches[1]) != 0 {
		fieldSpec = submatches[1]
	} else {
		fieldSpec = submatches[2]
	}
	return fmt.Sprintf("{.%s}", fieldSpec), nil
}

var terminalEscaper = strings.NewReplacer("\x1b", "^[", "\r", "\\r")

func customColumns(spec string, data interface{}) (string, error) {
	if len(spec) == 0 {
		return "", fmt.Errorf("custom-columns format specified but no custom columns given")
	}
	parts := strings.Split(spec, ",")
	type col struct{ h, s string }
	cols := []col{}
	for _, p := range parts {
		cs := strings.SplitN(p, ":", 2)
		if len(cs) != 2 {
			return "", fmt.Errorf("unexpected custom-columns spec: %s, expected <header>:<json-path-expr>", p)
		}
		r, err := relaxed(cs[1])
		if err != nil {
			return "", err
		}
		cols = append(cols, col{cs[0], r})
	}
	var buf bytes.Buffer
	err := func() error {
		w := tabwriter.NewWriter(&buf, 6, 4, 3, ' ', 0)
		defer w.Flush()
		hs := []string{}
		for _, c := range cols {
			hs = append(hs, c.h)
		}
		fmt.Fprintln(w, strings.Join(hs, "\t"))
		parsers := make([]*jsonpath.JSONPath, len(cols))
		for ix := range cols {
			parsers[ix] = jsonpath.New(fmt.Sprintf("column%d", ix)).AllowMissingKeys(true)
			if err := parsers[ix].Parse(cols[ix].s); err != nil {
				return err
			}
		}
		var objs []interface{}
		if m, ok := data.(map[string]interface{}); ok && m["kind"] == "List" {
			objs = m["items"].([]interface{})
		} else {
			objs = []interface{}{data}
		}
		for _, it := range objs {
			row := make([]string, len(parsers))
			for ix, parser := range parsers {
				values, err := parser.FindResults(it)
				if err != nil {
					return err
				}
				vs := []string{}
				if len(values) == 0 || len(values[0]) == 0 {
					vs = append(vs, "<none>")
				}
				for a := range values {
					for b := range values[a] {
						vs = append(vs, terminalEscaper.Replace(fmt.Sprint(values[a][b].Interface())))
					}
				}
				row[ix] = strings.Join(vs, ",")
			}
			fmt.Fprintln(w, strings.Join(row, "\t"))
		}
		return nil
	}()
	return buf.String(), err
}
