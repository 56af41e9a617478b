package agent

import (
	"errors"
	"fmt"
	"regexp"
	"strconv"
	"strings"

	"glassbox"
)

// nameRE is OpenAI's rule for function names.
var nameRE = regexp.MustCompile(`^[a-zA-Z0-9_-]{1,64}$`)

// maxPlanSteps bounds the steps a tool-choice plan may name.
const maxPlanSteps = 10000

// ParseToolChoices reads a tool-choice plan: the choice of each step, in
// order, separated by commas — "auto", "none", "required" or a tool's name
// — each optionally repeated with *N ("required*2,read_file,none": steps 1
// and 2 must call a tool, step 3 must call read_file, step 4 must answer).
// Steps after the plan use "auto". The empty string is no plan.
func ParseToolChoices(s string) ([]glassbox.ToolChoice, error) {
	if strings.TrimSpace(s) == "" {
		return nil, nil
	}
	var out []glassbox.ToolChoice
	for i, part := range strings.Split(s, ",") {
		part = strings.TrimSpace(part)
		name, count, hasCount := strings.Cut(part, "*")
		name = strings.TrimSpace(name)
		n := 1
		if hasCount {
			var err error
			n, err = strconv.Atoi(strings.TrimSpace(count))
			if err != nil || n < 1 {
				return nil, fmt.Errorf("tool choice %d (%q): the count after * must be a whole number from 1, got %q", i+1, part, count)
			}
		}
		var c glassbox.ToolChoice
		switch name {
		case "auto", "none", "required":
			c.Mode = name
		case "":
			return nil, fmt.Errorf("tool choice %d is empty: expected auto, none, required or a tool's name", i+1)
		default:
			if !nameRE.MatchString(name) {
				return nil, fmt.Errorf("tool choice %d (%q): expected auto, none, required or a tool's name (letters, digits, _ and -)", i+1, name)
			}
			c = glassbox.ToolChoice{Mode: "function", Function: name}
		}
		if len(out)+n > maxPlanSteps {
			return nil, fmt.Errorf("the tool-choice plan names more than %d steps", maxPlanSteps)
		}
		for range n {
			out = append(out, c)
		}
	}
	return out, nil
}

// FormatToolChoice writes a choice as ParseToolChoices reads it.
func FormatToolChoice(c glassbox.ToolChoice) string {
	switch c.Mode {
	case "":
		return "auto"
	case "function":
		return c.Function
	}
	return c.Mode
}

// SplitCommand splits a command line into its arguments as a POSIX shell
// does, without expansions: blanks separate arguments, single quotes keep
// their content as it is, double quotes keep it but for \", \\, \$ and \`,
// and a backslash outside quotes keeps the next character. An unterminated
// quote or a trailing backslash is an error.
func SplitCommand(s string) ([]string, error) {
	var args []string
	var cur strings.Builder
	inArg := false
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == ' ' || c == '\t' || c == '\n' || c == '\r':
			if inArg {
				args = append(args, cur.String())
				cur.Reset()
				inArg = false
			}
		case c == '\\':
			if i+1 >= len(s) {
				return nil, errors.New("the command ends with a lone backslash")
			}
			i++
			if s[i] != '\n' {
				cur.WriteByte(s[i])
				inArg = true
			}
		case c == '\'':
			j := strings.IndexByte(s[i+1:], '\'')
			if j < 0 {
				return nil, fmt.Errorf("unterminated single quote at byte %d", i)
			}
			cur.WriteString(s[i+1 : i+1+j])
			i += j + 1
			inArg = true
		case c == '"':
			j := i + 1
			for ; j < len(s) && s[j] != '"'; j++ {
				if s[j] == '\\' && j+1 < len(s) && strings.IndexByte("\"\\$`", s[j+1]) >= 0 {
					j++
				}
				cur.WriteByte(s[j])
			}
			if j >= len(s) {
				return nil, fmt.Errorf("unterminated double quote at byte %d", i)
			}
			i = j
			inArg = true
		default:
			cur.WriteByte(c)
			inArg = true
		}
	}
	if inArg {
		args = append(args, cur.String())
	}
	return args, nil
}
