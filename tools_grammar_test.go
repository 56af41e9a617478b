package glassbox

import "testing"

func TestRenameRule(t *testing.T) {
	src := "root ::= \"{\" ws item ws \"}\" # the root\nitem ::= [a-z]+ | \"root\" | root-like | root\nroot-like ::= \"x\\\"root\" [root]\nws ::= [ \\t\\n]*"
	got, err := renameRule(src, "root", "tool-call-object")
	if err != nil {
		t.Fatal(err)
	}
	want := "tool-call-object ::= \"{\" ws item ws \"}\" # the root\nitem ::= [a-z]+ | \"root\" | root-like | tool-call-object\nroot-like ::= \"x\\\"root\" [root]\nws ::= [ \\t\\n]*"
	if got != want {
		t.Errorf("got\n%s\nwant\n%s", got, want)
	}
	if _, err := renameRule("root ::= tool-call-object\ntool-call-object ::= \"a\"", "root", "tool-call-object"); err == nil {
		t.Error("renaming onto an existing rule: no error")
	}
	if err := CheckGrammar("root ::= tool-call-object\n" + got); err != nil {
		t.Errorf("renamed grammar: %v", err)
	}
}

func TestGBNFLiteral(t *testing.T) {
	lit := gbnfLiteral("<tool_call>\n{\"a\\b\"\t")
	if lit != `"<tool_call>\n{\"a\\b\"\t"` {
		t.Errorf("gbnfLiteral: %s", lit)
	}
	if err := CheckGrammar("root ::= " + lit); err != nil {
		t.Errorf("%s: %v", lit, err)
	}
}
