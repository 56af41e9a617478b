package main

import (
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/spf13/pflag"

	"glassbox/internal/fixtures"
)

// testFlags is a flag set with one flag of each kind serve has.
func testFlags() (*pflag.FlagSet, *struct {
	parallel int
	grace    time.Duration
	kv       bool
	models   []string
	hosts    []string
	key      string
	addr     string
}) {
	v := &struct {
		parallel int
		grace    time.Duration
		kv       bool
		models   []string
		hosts    []string
		key      string
		addr     string
	}{}
	fs := pflag.NewFlagSet("serve", pflag.ContinueOnError)
	fs.IntVar(&v.parallel, "parallel", 1, "")
	fs.DurationVar(&v.grace, "shutdown-grace", 10*time.Second, "")
	fs.BoolVar(&v.kv, "kv-f32", false, "")
	fs.StringArrayVarP(&v.models, "model", "m", nil, "")
	fs.StringSliceVar(&v.hosts, "allowed-host", nil, "")
	fs.StringVar(&v.key, "api-key", "", "")
	fs.StringVar(&v.addr, "addr", "127.0.0.1:8080", "")
	return fs, v
}

func TestApplyEnv(t *testing.T) {
	tests := []struct {
		name string
		args []string
		env  map[string]string
		err  string // in the error; "" for none
		set  []string
		// the values after
		parallel int
		grace    time.Duration
		kv       bool
		models   string
		hosts    string
		key      string
		addr     string
	}{
		{name: "nothing", parallel: 1, grace: 10 * time.Second, addr: "127.0.0.1:8080"},
		{name: "every kind",
			env: map[string]string{"GLASSBOX_PARALLEL": "4", "GLASSBOX_SHUTDOWN_GRACE": "45s", "GLASSBOX_KV_F32": "true",
				"GLASSBOX_MODEL": "chat=/models/a.gguf, code=/models/b.gguf", "GLASSBOX_ALLOWED_HOST": "a.lan,b.lan",
				"GLASSBOX_API_KEY": "s3cret", "GLASSBOX_ADDR": "0.0.0.0:8080"},
			set:      []string{"addr", "allowed-host", "api-key", "kv-f32", "model", "parallel", "shutdown-grace"},
			parallel: 4, grace: 45 * time.Second, kv: true, models: "chat=/models/a.gguf|code=/models/b.gguf", hosts: "a.lan|b.lan", key: "s3cret", addr: "0.0.0.0:8080"},
		{name: "the command line wins", args: []string{"--parallel", "2", "-m", "x.gguf"},
			env:      map[string]string{"GLASSBOX_PARALLEL": "4", "GLASSBOX_MODEL": "y.gguf", "GLASSBOX_ADDR": ":9000"},
			set:      []string{"addr"},
			parallel: 2, grace: 10 * time.Second, models: "x.gguf", addr: ":9000"},
		{name: "empty is unset", env: map[string]string{"GLASSBOX_PARALLEL": "", "GLASSBOX_API_KEY": ""},
			parallel: 1, grace: 10 * time.Second, addr: "127.0.0.1:8080"},
		{name: "service links are not flags", // what Kubernetes injects for a Service named glassbox
			env:      map[string]string{"GLASSBOX_PORT": "tcp://10.96.0.12:8080", "GLASSBOX_SERVICE_HOST": "10.96.0.12", "GLASSBOX_PORT_8080_TCP_ADDR": "10.96.0.12"},
			parallel: 1, grace: 10 * time.Second, addr: "127.0.0.1:8080"},
		{name: "bad int", env: map[string]string{"GLASSBOX_PARALLEL": "four"},
			err: `GLASSBOX_PARALLEL="four": invalid value for --parallel (int)`},
		{name: "bad duration", env: map[string]string{"GLASSBOX_SHUTDOWN_GRACE": "30"},
			err: `GLASSBOX_SHUTDOWN_GRACE="30": invalid value for --shutdown-grace (duration)`},
		{name: "bad bool", env: map[string]string{"GLASSBOX_KV_F32": "yes please"},
			err: `GLASSBOX_KV_F32="yes please": invalid value for --kv-f32 (bool)`},
		{name: "empty item", env: map[string]string{"GLASSBOX_MODEL": "a.gguf,,b.gguf"},
			err: `GLASSBOX_MODEL="a.gguf,,b.gguf": an empty item in the list`},
		{name: "two bad", env: map[string]string{"GLASSBOX_PARALLEL": "x", "GLASSBOX_KV_F32": "y"},
			err: "GLASSBOX_KV_F32=\"y\": invalid value for --kv-f32 (bool): strconv.ParseBool: parsing \"y\": invalid syntax\nGLASSBOX_PARALLEL"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fs, v := testFlags()
			if err := fs.Parse(tt.args); err != nil {
				t.Fatal(err)
			}
			set, err := applyEnv(fs, func(k string) (string, bool) { s, ok := tt.env[k]; return s, ok })
			if tt.err != "" {
				if err == nil || !strings.Contains(err.Error(), tt.err) {
					t.Fatalf("error %v, want %q", err, tt.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			var names []string
			for n := range set {
				names = append(names, n)
			}
			if got, want := strings.Join(sorted(names), ","), strings.Join(tt.set, ","); got != want {
				t.Errorf("set from the environment: %s, want %s", got, want)
			}
			if v.parallel != tt.parallel || v.grace != tt.grace || v.kv != tt.kv || strings.Join(v.models, "|") != tt.models ||
				strings.Join(v.hosts, "|") != tt.hosts || v.key != tt.key || v.addr != tt.addr {
				t.Errorf("values %+v", *v)
			}
		})
	}
}

func sorted(s []string) []string {
	for i := 1; i < len(s); i++ {
		for j := i; j > 0 && s[j] < s[j-1]; j-- {
			s[j], s[j-1] = s[j-1], s[j]
		}
	}
	return s
}

func TestFromEnv(t *testing.T) {
	set := map[string]envSetting{
		"parallel": {env: "GLASSBOX_PARALLEL", value: "0"},
		"max-body": {env: "GLASSBOX_MAX_BODY", value: "-1"},
		"model":    {env: "GLASSBOX_MODEL", value: "=x", short: "m"},
		"api-key":  {env: "GLASSBOX_API_KEY", value: "s3cret", secret: true},
	}
	tests := []struct{ in, want string }{
		{"--parallel must be at least 1, got 0", `--parallel must be at least 1, got 0 (set by the environment: GLASSBOX_PARALLEL="0")`},
		{"--max-body must be positive, got -1", `--max-body must be positive, got -1 (set by the environment: GLASSBOX_MAX_BODY="-1")`},
		{`-m "=x": expected NAME=PATH with a name and a path`, `-m "=x": expected NAME=PATH with a name and a path (set by the environment: GLASSBOX_MODEL="=x")`},
		{"--api-key is odd", "--api-key is odd (set by the environment: GLASSBOX_API_KEY)"}, // the key is never shown
		{"--queue must be >= 0, got -1", "--queue must be >= 0, got -1"},                    // not from the environment
		{"--parallel-x is not --parallelism", "--parallel-x is not --parallelism"},          // longer flags
	}
	for _, tt := range tests {
		if got := fromEnv(errorString(tt.in), set).Error(); got != tt.want {
			t.Errorf("fromEnv(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
	if fromEnv(nil, set) != nil {
		t.Error("fromEnv(nil) is not nil")
	}
}

type errorString string

func (e errorString) Error() string { return string(e) }

// TestServeEnv: glassbox serve takes its settings from the environment, the
// command line winning, and names the variable behind a refused value.
func TestServeEnv(t *testing.T) {
	model := fixtures.Path(t, "gguf", "stories260K-f32.gguf")
	t.Setenv("GLASSBOX_HOME", t.TempDir())
	t.Setenv("XDG_CACHE_HOME", t.TempDir()) // where serve writes the embedded models' files to list them
	t.Setenv("GLASSBOX_MODEL", "tiny="+model)
	t.Setenv("GLASSBOX_PARALLEL", "3")
	t.Setenv("GLASSBOX_CTX", "64")
	t.Setenv("GLASSBOX_API_KEY", "env-key")
	t.Setenv("GLASSBOX_PUBLIC_METRICS", "true")
	t.Setenv("GLASSBOX_KV_BUDGET_SLOT", "40KiB") // one page of 64 positions of stories260K
	t.Setenv("GLASSBOX_ADDR", "127.0.0.1:0")
	t.Setenv("GLASSBOX_PORT", "tcp://10.96.0.12:8080") // a Kubernetes service link, ignored
	srv := startServe(t, "--parallel", "2")
	getWith := func(path, key string) (int, []byte) {
		req, _ := http.NewRequest(http.MethodGet, srv.base+path, nil)
		if key != "" {
			req.Header.Set("Authorization", "Bearer "+key)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, b
	}
	if st, _ := getWith("/v1/models", ""); st != 401 {
		t.Errorf("/v1/models without the key of GLASSBOX_API_KEY: %d", st)
	}
	st, b := getWith("/v1/models", "env-key")
	var list struct {
		Data []struct {
			ID   string `json:"id"`
			Meta struct {
				Ctx   int `json:"n_ctx"`
				Slots int `json:"slots"`
			} `json:"meta"`
		} `json:"data"`
	}
	// the -m model, then the embedded ones
	if err := json.Unmarshal(b, &list); err != nil || st != 200 || len(list.Data) != 3 || list.Data[1].ID != "glassbox-go-1m.f32" || list.Data[2].ID != "glassbox-go-1m-grpo.f32" {
		t.Fatalf("/v1/models: %d %s", st, b)
	}
	if m := list.Data[0]; m.ID != "tiny" || m.Meta.Ctx != 64 || m.Meta.Slots != 2 {
		t.Errorf("model %+v: want tiny (GLASSBOX_MODEL), n_ctx 64 (GLASSBOX_CTX), 2 slots (--parallel over GLASSBOX_PARALLEL)", m)
	}
	if st, b := getWith("/metrics", ""); st != 200 || !strings.Contains(string(b), `glassbox_slots{model="tiny"} 2`) {
		t.Errorf("/metrics without a key (GLASSBOX_PUBLIC_METRICS): %d", st)
	}
	var slots []struct {
		Limit int64 `json:"kv_cache_limit_bytes"`
	}
	if st, b := getWith("/slots", "env-key"); st != 200 || json.Unmarshal(b, &slots) != nil || len(slots) != 2 || slots[0].Limit != 40<<10 {
		t.Errorf("/slots: %d %s, want 2 slots of kv_cache_limit_bytes %d (GLASSBOX_KV_BUDGET_SLOT)", st, b, 40<<10)
	}
	srv.cancel()
	if err := <-srv.done; err != nil {
		t.Fatal(err)
	}

	for _, tc := range []struct{ env, value, want string }{
		{"GLASSBOX_PARALLEL", "0", `--parallel must be at least 1, got 0 (set by the environment: GLASSBOX_PARALLEL="0")`},
		{"GLASSBOX_PARALLEL", "many", `GLASSBOX_PARALLEL="many": invalid value for --parallel (int)`},
		{"GLASSBOX_LOG_FORMAT", "xml", `--log-format must be text or json, got "xml" (set by the environment: GLASSBOX_LOG_FORMAT="xml")`},
		{"GLASSBOX_MODEL", "/nonexistent/m.gguf", `(the models come from GLASSBOX_MODEL="/nonexistent/m.gguf")`},
		{"GLASSBOX_ADDR", "256.0.0.1:80", `listen on 256.0.0.1:80 (--addr)`},
		{"GLASSBOX_KV_BUDGET_SLOT", "lots", `--kv-budget-slot: invalid size "lots": want bytes with an optional unit, such as 512MiB, 2GiB or 1.5G (set by the environment: GLASSBOX_KV_BUDGET_SLOT="lots")`},
		{"GLASSBOX_KV_BUDGET_SLOT", "1KiB", `is less than one page of its cache: 64 positions of 40.0 KiB (40960 bytes); raise it to at least 40960 bytes (set by the environment: GLASSBOX_KV_BUDGET_SLOT="1KiB")`},
	} {
		t.Run(tc.env+"="+tc.value, func(t *testing.T) {
			t.Setenv("GLASSBOX_PARALLEL", "1")
			t.Setenv(tc.env, tc.value)
			_, _, err := execute(t, newServeCmd(), "")
			if err == nil || !strings.Contains(err.Error(), tc.want) || !strings.Contains(err.Error(), tc.env) {
				t.Errorf("error %v, want one containing %q", err, tc.want)
			}
		})
	}
}

// FuzzServeEnv: any value of any serve variable is taken or refused with an
// error naming the variable, never a panic.
func FuzzServeEnv(f *testing.F) {
	for _, s := range []string{"4", "", "a,b", ",", "30s", "true", "0.0.0.0:8080", "x=y.gguf"} {
		f.Add("parallel", s)
		f.Add("model", s)
		f.Add("shutdown-grace", s)
	}
	f.Fuzz(func(t *testing.T, flag, value string) {
		o := &serveOptions{}
		cmd := serveCmd(o)
		name := envName(flag)
		set, err := applyEnv(cmd.Flags(), func(k string) (string, bool) { return value, k == name })
		if err != nil {
			if !strings.Contains(err.Error(), name) {
				t.Fatalf("error %q does not name %s", err, name)
			}
			return
		}
		if _, verr := o.validate(); verr != nil {
			fromEnv(verr, set)
		}
	})
}
