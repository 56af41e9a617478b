package server

import (
	"net/http"
	"strings"

	"glassbox/eval"
)

// leaderboard answers GET /glassbox/leaderboard: the leaderboard of the
// records Config.Leaderboard reads, as eval.Leaderboard's JSON; ?sort=COLUMN
// ranks it (best first, or worst first with &reverse=1), as
// `glassbox leaderboard --sort` does.
func (s *Server) leaderboard(w http.ResponseWriter, r *http.Request) error {
	if s.cfg.Leaderboard == nil {
		return &APIError{Status: http.StatusNotFound, Type: "invalid_request_error", Code: "not_found",
			Message: "this server keeps no leaderboard: glassbox serve reads it from the store's evaluation and bench records"}
	}
	lb, err := s.cfg.Leaderboard()
	if err != nil {
		return err
	}
	q := r.URL.Query()
	reverse := q.Get("reverse") == "1" || q.Get("reverse") == "true"
	if col := q.Get("sort"); col != "" {
		if err := lb.Sort(col, reverse); err != nil {
			return &APIError{Status: http.StatusBadRequest, Type: "invalid_request_error", Param: "sort",
				Message: strings.TrimPrefix(err.Error(), "eval: ")}
		}
	}
	if lb.Rows == nil {
		lb.Rows = []eval.Row{}
	}
	if lb.Scores == nil {
		lb.Scores = []eval.ScoreColumn{}
	}
	writeJSON(w, http.StatusOK, lb)
	return nil
}
