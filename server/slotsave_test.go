package server

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestSlotSaveRestore: a slot saved to a file, erased, then restored (into
// another server, as after a restart) reuses its tokens for the next turn,
// whose reply is the one an unsaved slot gives; names outside the directory,
// missing files and another model's file are refused.
func TestSlotSaveRestore(t *testing.T) {
	dir := t.TempDir()
	path := chatModelPath(t)
	newSrv := func() (*Server, string) {
		return testServer(t, Config{Models: []Model{{Name: "chat", Model: openModel(t, path, 128)},
			{Name: "stories", Model: openModel(t, fimModelPath(t), 128)}}, Parallel: 2, Queue: 4, SlotSavePath: dir})
	}
	_, base := newSrv()
	turn1 := `{"prompt":"Once upon a time, there was a little girl named Lily","n_predict":12,"temperature":0,"id_slot":1}`
	first := llamaComplete(t, base, turn1)
	// the next turn, on an unsaved slot: the reference
	turn2 := func(slot int) string {
		return fmt.Sprintf(`{"prompt":%q,"n_predict":12,"temperature":0,"id_slot":%d}`, "Once upon a time, there was a little girl named Lily"+first.Content+" One day", slot)
	}
	code, _, b := post(t, base+"/slots/1?action=save", `{"filename":"lily.bin"}`, nil)
	var saved struct {
		IDSlot   int    `json:"id_slot"`
		Filename string `json:"filename"`
		NSaved   int    `json:"n_saved"`
		NWritten int64  `json:"n_written"`
		Timings  struct {
			SaveMS *float64 `json:"save_ms"`
		} `json:"timings"`
	}
	if code != 200 || json.Unmarshal(b, &saved) != nil || saved.IDSlot != 1 || saved.Filename != "lily.bin" || saved.NSaved < 20 || saved.Timings.SaveMS == nil {
		t.Fatalf("save: %d %s", code, b)
	}
	if st, err := os.Stat(filepath.Join(dir, "lily.bin")); err != nil || st.Size() != saved.NWritten {
		t.Fatalf("the file: %v, %d bytes written", err, saved.NWritten)
	}
	want := llamaComplete(t, base, turn2(1))

	// a new server (a restart): restore into slot 0, then the next turn there
	_, base2 := newSrv()
	code, _, b = post(t, base2+"/slots/0?action=restore", `{"filename":"lily.bin"}`, nil)
	var restored struct {
		IDSlot    int   `json:"id_slot"`
		NRestored int   `json:"n_restored"`
		NRead     int64 `json:"n_read"`
		Timings   struct {
			RestoreMS *float64 `json:"restore_ms"`
		} `json:"timings"`
	}
	if code != 200 || json.Unmarshal(b, &restored) != nil || restored.IDSlot != 0 || restored.NRestored != saved.NSaved || restored.NRead != saved.NWritten || restored.Timings.RestoreMS == nil {
		t.Fatalf("restore: %d %s", code, b)
	}
	_, _, b = get(t, base2+"/slots", nil)
	var slots []slotInfo
	if json.Unmarshal(b, &slots) != nil || slots[0].TokensCached != saved.NSaved {
		t.Errorf("/slots after restore: %s", b)
	}
	got := llamaComplete(t, base2, turn2(0))
	if got.TokensCached < saved.NSaved {
		t.Errorf("the restored slot reused %d tokens, %d were saved", got.TokensCached, saved.NSaved)
	}
	if got.Content != want.Content {
		t.Errorf("after restore %q, unsaved %q", got.Content, want.Content)
	}

	for _, c := range []struct {
		url, body string
		code      int
		msg       string
	}{
		{"/slots/0?action=save", `{"filename":"../escape.bin"}`, 400, "starts with a dot"},
		{"/slots/0?action=save", `{"filename":"x/../../escape.bin"}`, 400, "path separator"},
		{"/slots/0?action=save", `{"filename":"x\\..\\escape.bin"}`, 400, "path separator"},
		{"/slots/0?action=save", `{"filename":".."}`, 400, "names a directory"},
		{"/slots/0?action=save", `{"filename":"/etc/passwd"}`, 400, "path separator"},
		{"/slots/0?action=save", `{"filename":"a\u0000b"}`, 400, "control"},
		{"/slots/0?action=save", `{"filename":".hidden"}`, 400, "starts with a dot"},
		{"/slots/0?action=save", `{"filename":"` + strings.Repeat("x", 256) + `"}`, 400, "at most 255"},
		{"/slots/0?action=save", `{}`, 400, "'filename' is required"},
		{"/slots/0?action=restore", `{"filename":"none.bin"}`, 404, "no saved slot"},
		{"/slots/9?action=restore", `{"filename":"lily.bin"}`, 404, "slots 0 to 1"},
	} {
		code, _, b := post(t, base2+c.url, c.body, nil)
		if code != c.code || !strings.Contains(string(b), c.msg) {
			t.Errorf("%s %s: %d %s, want %d %q", c.url, c.body, code, b, c.code, c.msg)
		}
	}
	if _, err := os.Stat(filepath.Join(filepath.Dir(dir), "escape.bin")); err == nil {
		t.Error("a file was written outside --slot-save-path")
	}
	// another model's state (another file of the same shape: only the metadata differs): refused
	code, _, b = post(t, base2+"/slots/0?action=restore&model=stories", `{"filename":"lily.bin"}`, nil)
	if code != 400 || !strings.Contains(string(b), "saved from another model") {
		t.Errorf("restore into another model: %d %s", code, b)
	}
	// a damaged file
	os.WriteFile(filepath.Join(dir, "bad.bin"), []byte("GBXSTATE\x01"), 0o600)
	if code, _, b := post(t, base2+"/slots/1?action=restore", `{"filename":"bad.bin"}`, nil); code != 400 || !strings.Contains(string(b), "cut short") {
		t.Errorf("damaged: %d %s", code, b)
	}
}

// FuzzSlotFilename: a name validSlotFilename accepts is a file directly in
// the save directory.
func FuzzSlotFilename(f *testing.F) {
	for _, s := range []string{"lily.bin", "../x", "a/b", `a\b`, "..", ".", "", " x", "x ", "a\x00", "ok-1_2.bin", "C:x", "\u202ex"} {
		f.Add(s)
	}
	dir := filepath.Join(os.TempDir(), "slots")
	f.Fuzz(func(t *testing.T, name string) {
		if validSlotFilename(name) != nil {
			return
		}
		p := filepath.Join(dir, name)
		if filepath.Dir(p) != dir || filepath.Base(p) != name {
			t.Fatalf("%q accepted but joins to %q", name, p)
		}
	})
}
