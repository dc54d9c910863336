package main

import (
	"encoding/json"
	"fmt"
	"os"
)

// readReport reads the JSON report of an earlier run.
func readReport(name string) (*Report, error) {
	b, err := os.ReadFile(name)
	if err != nil {
		return nil, err
	}
	var rep Report
	if err := json.Unmarshal(b, &rep); err != nil {
		return nil, fmt.Errorf("%s: %v", name, err)
	}
	return &rep, nil
}

// kept reports whether an earlier result stands in a resumed run: a catch
// (the kit only ever gains cases and conditions, so what it caught it
// still catches), a build failure (the same source fails the same way),
// and a survivor that today's list judges equivalent or invisible (it
// does not count against the score). Everything else is judged again: the
// survivors that count, and mutants that did not start or were unjudged.
func kept(res *Result, listed map[string]bool) bool {
	switch res.Outcome {
	case Caught, NotCompiled:
		return true
	case Survived:
		return listed[res.ID]
	}
	return false
}

// resume fills results[i] with the earlier result of sel[i] wherever that
// result stands (kept), and returns the indexes left to judge.
func resume(old *Report, sel []*Mutation, results []*Result, listed []Listed) (todo []int) {
	byID := make(map[string]*Result, len(old.Results))
	for _, res := range old.Results {
		byID[res.ID] = res
	}
	isListed := make(map[string]bool, len(listed))
	for _, l := range listed {
		isListed[l.ID.String()] = true
	}
	for i, m := range sel {
		res := byID[m.ID.String()]
		if res == nil || !kept(res, isListed) {
			todo = append(todo, i)
			continue
		}
		res.m, res.Resumed = m, true
		res.Class, res.Reason = "", ""
		results[i] = res
	}
	return todo
}
