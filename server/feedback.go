package server

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"

	"glassbox/feedback"
)

// noFeedback answers the feedback routes of a server that keeps none.
func noFeedback() *APIError {
	return &APIError{Status: http.StatusNotFound, Type: "invalid_request_error", Code: "feedback_disabled",
		Message: "this server keeps no feedback: start it with glassbox serve (the store's feedback file) or --feedback FILE"}
}

// postFeedback is POST /glassbox/feedback: one judgement, a feedback record
// (the fields of the feedback file, docs/alignment.md), appended to the
// file and fsynced before the answer (201, the record as stored).
func (s *Server) postFeedback(w http.ResponseWriter, r *http.Request) error {
	if s.cfg.Feedback == nil {
		return noFeedback()
	}
	data, err := io.ReadAll(r.Body)
	if err != nil {
		var mb *http.MaxBytesError
		if errors.As(err, &mb) {
			return &APIError{Status: http.StatusRequestEntityTooLarge, Type: "invalid_request_error", Code: "request_too_large",
				Message: fmt.Sprintf("the request body is larger than the limit of %d bytes", mb.Limit)}
		}
		return badRequest("", "could not read the request body: %v", err)
	}
	if len(bytes.TrimSpace(data)) == 0 {
		return badRequest("", "the request body is empty: expected a feedback record, a JSON object")
	}
	rec, err := feedback.Parse(data)
	if err == nil {
		if rec.Source == "" {
			rec.Source = "api"
		}
		err = rec.Normalize()
	}
	if err != nil {
		var fe *feedback.FieldError
		if errors.As(err, &fe) {
			return badRequest(fe.Field, "invalid feedback record: %v", err)
		}
		return badRequest("", "invalid feedback record: %v", err)
	}
	if err := s.cfg.Feedback.Append(&rec); err != nil {
		return err
	}
	writeJSON(w, http.StatusCreated, rec)
	return nil
}

// feedbackList is the answer of GET /glassbox/feedback.
type feedbackList struct {
	Object string            `json:"object"`
	Data   []feedback.Record `json:"data"`
	// Total is the number of records in the file (data holds the last
	// "limit" of them when the query gives one).
	Total int `json:"total"`
	// Warnings name the lines of the file that are not valid records.
	Warnings []string `json:"warnings"`
}

// getFeedback is GET /glassbox/feedback[?limit=N]: the records of the
// feedback file, oldest first (the last N with a limit).
func (s *Server) getFeedback(w http.ResponseWriter, r *http.Request) error {
	if s.cfg.Feedback == nil {
		return noFeedback()
	}
	limit := 0
	if v := r.URL.Query().Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 {
			return badRequest("limit", "invalid value for 'limit': expected a positive integer, got %q", v)
		}
		limit = n
	}
	recs, bad, err := s.cfg.Feedback.Read()
	if err != nil {
		return err
	}
	out := feedbackList{Object: "list", Data: recs, Total: len(recs), Warnings: []string{}}
	if out.Data == nil {
		out.Data = []feedback.Record{}
	}
	if limit > 0 && len(out.Data) > limit {
		out.Data = out.Data[len(out.Data)-limit:]
	}
	for _, b := range bad {
		out.Warnings = append(out.Warnings, b.Error())
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}
