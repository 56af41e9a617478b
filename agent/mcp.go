package agent

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"strings"

	"github.com/modelcontextprotocol/go-sdk/mcp"
)

// MCPServer is a connected MCP server whose tools the agent offers the
// model.
type MCPServer struct {
	// Name is the server's name (from its initialize answer).
	Name    string
	session *mcp.ClientSession
	tools   []Tool
}

// ConnectMCP connects to an MCP server over transport (mcp.CommandTransport
// for stdio, mcp.StreamableClientTransport for Streamable HTTP, or any other
// of the go-sdk) and lists its tools. Close ends the session (and stops a
// command's process).
func ConnectMCP(ctx context.Context, transport mcp.Transport, version string) (*MCPServer, error) {
	if version == "" {
		version = "devel"
	}
	c := mcp.NewClient(&mcp.Implementation{Name: "glassbox-agent", Version: version}, nil)
	cs, err := c.Connect(ctx, transport, nil)
	if err != nil {
		return nil, fmt.Errorf("connecting to the MCP server: %w", err)
	}
	s := &MCPServer{Name: "mcp", session: cs}
	if ir := cs.InitializeResult(); ir != nil && ir.ServerInfo != nil && ir.ServerInfo.Name != "" {
		s.Name = ir.ServerInfo.Name
	}
	for t, err := range cs.Tools(ctx, nil) {
		if err != nil {
			cs.Close()
			return nil, fmt.Errorf("listing the tools of the MCP server %s: %w", s.Name, err)
		}
		tool, err := s.tool(t)
		if err != nil {
			cs.Close()
			return nil, err
		}
		s.tools = append(s.tools, tool)
	}
	return s, nil
}

// CommandTransport returns the stdio transport of an MCP server started by
// a command line ("glassbox mcp -m model.gguf"), split as a shell would
// split it (SplitCommand); the server's stderr goes to ours.
func CommandTransport(line string) (mcp.Transport, error) {
	args, err := SplitCommand(line)
	if err != nil {
		return nil, fmt.Errorf("--mcp %q: %w", line, err)
	}
	if len(args) == 0 {
		return nil, fmt.Errorf("--mcp needs a command, such as \"glassbox mcp\"")
	}
	cmd := exec.Command(args[0], args[1:]...)
	cmd.Stderr = os.Stderr
	return &mcp.CommandTransport{Command: cmd}, nil
}

// HTTPTransport returns the Streamable HTTP transport of an MCP server at
// url (such as http://127.0.0.1:8090/mcp).
func HTTPTransport(url string, client *http.Client) (mcp.Transport, error) {
	if !strings.HasPrefix(url, "http://") && !strings.HasPrefix(url, "https://") {
		return nil, fmt.Errorf("--mcp-url %q: expected an http:// or https:// URL", url)
	}
	return &mcp.StreamableClientTransport{Endpoint: url, HTTPClient: client}, nil
}

// Tools returns the server's tools, named as the server names them (Combine
// renames those whose name is taken).
func (s *MCPServer) Tools() []Tool { return s.tools }

// Close ends the session.
func (s *MCPServer) Close() error { return s.session.Close() }

// tool makes an agent tool of an MCP tool.
func (s *MCPServer) tool(t *mcp.Tool) (Tool, error) {
	schema, err := json.Marshal(t.InputSchema)
	if err != nil {
		return Tool{}, fmt.Errorf("the MCP tool %s of %s: its input schema: %w", t.Name, s.Name, err)
	}
	if string(schema) == "null" {
		schema = []byte(`{"type": "object"}`)
	}
	name := t.Name
	desc := t.Description
	if desc == "" {
		desc = t.Title
	}
	return Tool{
		Name: sanitizeName(name), Description: desc, Parameters: schema, Source: "mcp:" + s.Name,
		Call: func(ctx context.Context, raw json.RawMessage) (string, error) {
			args, err := mcpArguments(raw)
			if err != nil {
				return "", err
			}
			res, err := s.session.CallTool(ctx, &mcp.CallToolParams{Name: name, Arguments: args})
			if err != nil {
				return "", fmt.Errorf("the MCP server %s: %w", s.Name, err)
			}
			text := ContentText(res)
			if res.IsError {
				if text == "" {
					text = "the tool failed without a message"
				}
				return "", errors.New(text)
			}
			return text, nil
		},
	}, nil
}

// mcpArguments reads a call's arguments as the JSON object MCP expects.
func mcpArguments(raw json.RawMessage) (map[string]any, error) {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 || string(raw) == "null" {
		return map[string]any{}, nil
	}
	var args map[string]any
	if err := json.Unmarshal(raw, &args); err != nil {
		return nil, fmt.Errorf("the arguments must be a JSON object: %v", err)
	}
	if args == nil {
		args = map[string]any{}
	}
	return args, nil
}

// ContentText is what the model reads of a tool result: the text of its
// text contents and embedded text resources, one description line for
// each other content (image, audio, resource link, binary resource), or
// the structured content as JSON when there is nothing else.
func ContentText(res *mcp.CallToolResult) string {
	var parts []string
	for _, c := range res.Content {
		switch c := c.(type) {
		case *mcp.TextContent:
			parts = append(parts, c.Text)
		case *mcp.ImageContent:
			parts = append(parts, fmt.Sprintf("[image %s, %d bytes]", c.MIMEType, len(c.Data)))
		case *mcp.AudioContent:
			parts = append(parts, fmt.Sprintf("[audio %s, %d bytes]", c.MIMEType, len(c.Data)))
		case *mcp.ResourceLink:
			parts = append(parts, fmt.Sprintf("[resource %s: %s]", c.URI, c.Name))
		case *mcp.EmbeddedResource:
			switch {
			case c.Resource == nil:
			case c.Resource.Text != "":
				parts = append(parts, c.Resource.Text)
			default:
				parts = append(parts, fmt.Sprintf("[resource %s, %s, %d bytes]", c.Resource.URI, c.Resource.MIMEType, len(c.Resource.Blob)))
			}
		default:
			parts = append(parts, fmt.Sprintf("[%T content]", c))
		}
	}
	if len(parts) == 0 && res.StructuredContent != nil {
		if b, err := json.Marshal(res.StructuredContent); err == nil {
			return string(b)
		}
	}
	return strings.Join(parts, "\n")
}
