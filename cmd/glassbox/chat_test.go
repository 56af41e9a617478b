package main

import (
	"strings"
	"testing"
)

// TestChatAnnouncesFullContext checks that a reply cut by the end of the
// context, and a message that no longer fits, are announced with /reset
// suggested, and that the session goes on after /reset.
func TestChatAnnouncesFullContext(t *testing.T) {
	model := chatModel(t) // a context of 128 tokens
	in := "Once upon a time\nAnd then\n/reset\nOnce upon a time\n/bye\n"
	out, stderr, err := execute(t, newChatCmd(), in, "-m", model, "--temperature", "0", "-n", "1000")
	if err != nil {
		t.Fatal(err)
	}
	if n := strings.Count(stderr, "(the context of 128 tokens is full: the reply was cut after "); n != 2 {
		t.Errorf("%d announcements of a full context, want 2:\n%s", n, stderr)
	}
	if n := strings.Count(stderr, "the conversation no longer fits the context: with this message it takes 134 tokens, and the context holds 128"); n != 1 {
		t.Errorf("%d announcements of a conversation too long, want 1:\n%s", n, stderr)
	}
	if strings.Count(stderr, "/reset") != 3 {
		t.Errorf("every announcement should suggest /reset:\n%s", stderr)
	}
	// the replies are the same story, before and after /reset
	replies := strings.Split(out, ">>> ")
	if len(replies) != 6 || replies[1] == "" || replies[1] != replies[4] || replies[2] != "" || !strings.Contains(out, "(conversation cleared)") {
		t.Errorf("chat transcript:\n%s", out)
	}

	// a reply cut by -n says so too
	_, stderr, err = execute(t, newChatCmd(), "Once upon a time\n", "-m", model, "--temperature", "0", "-n", "5")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(stderr, "(the reply was cut at the limit of 5 tokens, -n)") {
		t.Errorf("no announcement of the -n limit:\n%s", stderr)
	}
}
