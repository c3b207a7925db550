package event

import (
	"math"
	"strconv"
	"time"
)

// TimeFields are the keys tried, in order, when a source names no time field.
var TimeFields = []string{"timestamp", "time", "@timestamp", "ts"}

// MinTime and MaxTime bound the timestamps secwatch accepts; anything outside
// is treated as unparseable, so that a hostile or broken timestamp cannot
// overflow the engine's nanosecond arithmetic.
var (
	MinTime = time.Date(1970, 1, 1, 0, 0, 0, 0, time.UTC)
	MaxTime = time.Date(2200, 1, 1, 0, 0, 0, 0, time.UTC)
)

// InRange reports whether t lies in [MinTime, MaxTime).
func InRange(t time.Time) bool {
	return !t.Before(MinTime) && t.Before(MaxTime)
}

// ParseTime parses the timestamp forms secwatch accepts:
//
//   - RFC 3339 / ISO 8601 with 'T' or a space between date and time, an
//     optional fraction after '.' or ',' (Python's asctime uses ','), and an
//     optional zone (Z or ±hh:mm or ±hhmm); no zone means UTC;
//   - epoch seconds, integer or fractional ("1769627702.118532");
//   - epoch milliseconds (an integer of 12 or more digits).
//
// The result is always in UTC. It reports false for anything else and for
// times outside [MinTime, MaxTime).
func ParseTime(s string) (time.Time, bool) {
	var t time.Time
	var ok bool
	if len(s) >= 19 && s[4] == '-' && s[7] == '-' {
		t, ok = parseISO(s)
	} else {
		t, ok = parseEpoch(s)
	}
	if !ok || !InRange(t) {
		return time.Time{}, false
	}
	return t, true
}

func parseEpoch(s string) (time.Time, bool) {
	if s == "" || len(s) > 32 {
		return time.Time{}, false
	}
	intPart, frac := s, ""
	for i := 0; i < len(s); i++ {
		if s[i] == '.' {
			intPart, frac = s[:i], s[i+1:]
			break
		}
	}
	if intPart == "" || !allDigits(intPart) || (frac != "" && !allDigits(frac)) {
		if f, err := strconv.ParseFloat(s, 64); err == nil && !math.IsInf(f, 0) && !math.IsNaN(f) && f >= 0 && f < 1e11 {
			sec, fr := math.Modf(f)
			return time.Unix(int64(sec), int64(fr*1e9)).UTC(), true
		}
		return time.Time{}, false
	}
	n, err := strconv.ParseInt(intPart, 10, 64)
	if err != nil {
		return time.Time{}, false
	}
	if len(intPart) >= 12 && frac == "" { // milliseconds
		return time.UnixMilli(n).UTC(), true
	}
	if len(intPart) > 11 {
		return time.Time{}, false
	}
	var nanos int64
	for i := 0; i < 9; i++ {
		nanos *= 10
		if i < len(frac) {
			nanos += int64(frac[i] - '0')
		}
	}
	return time.Unix(n, nanos).UTC(), true
}

func allDigits(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

// parseISO parses YYYY-MM-DD[T ]HH:MM:SS[(.|,)frac][Z|±hh:mm|±hhmm] without
// allocating.
func parseISO(s string) (time.Time, bool) {
	num := func(a, b int) (int, bool) {
		v := 0
		for i := a; i < b; i++ {
			c := s[i]
			if c < '0' || c > '9' {
				return 0, false
			}
			v = v*10 + int(c-'0')
		}
		return v, true
	}
	if s[10] != 'T' && s[10] != ' ' && s[10] != 't' || s[13] != ':' || s[16] != ':' {
		return time.Time{}, false
	}
	year, ok1 := num(0, 4)
	month, ok2 := num(5, 7)
	day, ok3 := num(8, 10)
	hour, ok4 := num(11, 13)
	minute, ok5 := num(14, 16)
	sec, ok6 := num(17, 19)
	if !(ok1 && ok2 && ok3 && ok4 && ok5 && ok6) || month < 1 || month > 12 || day < 1 ||
		day > daysIn(year, month) || hour > 23 || minute > 59 || sec > 60 {
		return time.Time{}, false
	}
	if sec == 60 { // leap second: clamp, as time.Parse rejects it
		sec = 59
	}
	i := 19
	nanos := 0
	if i < len(s) && (s[i] == '.' || s[i] == ',') {
		i++
		start := i
		digits := 0
		for i < len(s) && s[i] >= '0' && s[i] <= '9' {
			if digits < 9 {
				nanos = nanos*10 + int(s[i]-'0')
				digits++
			}
			i++
		}
		if i == start {
			return time.Time{}, false
		}
		for ; digits < 9; digits++ {
			nanos *= 10
		}
	}
	offset := 0
	switch {
	case i == len(s):
	case s[i] == 'Z' || s[i] == 'z':
		i++
	case s[i] == '+' || s[i] == '-':
		sign := 1
		if s[i] == '-' {
			sign = -1
		}
		rest := s[i+1:]
		var hh, mm int
		var ok bool
		switch {
		case len(rest) == 5 && rest[2] == ':':
			hh, ok = atoi2(rest[0:2])
			if ok {
				mm, ok = atoi2(rest[3:5])
			}
		case len(rest) == 4:
			hh, ok = atoi2(rest[0:2])
			if ok {
				mm, ok = atoi2(rest[2:4])
			}
		case len(rest) == 2:
			hh, ok = atoi2(rest)
		}
		if !ok || hh > 23 || mm > 59 {
			return time.Time{}, false
		}
		offset = sign * (hh*3600 + mm*60)
		i = len(s)
	default:
		return time.Time{}, false
	}
	if i != len(s) {
		return time.Time{}, false
	}
	t := time.Date(year, time.Month(month), day, hour, minute, sec, nanos, time.UTC)
	if offset != 0 {
		t = t.Add(-time.Duration(offset) * time.Second)
	}
	return t, true
}

func atoi2(s string) (int, bool) {
	if len(s) != 2 || s[0] < '0' || s[0] > '9' || s[1] < '0' || s[1] > '9' {
		return 0, false
	}
	return int(s[0]-'0')*10 + int(s[1]-'0'), true
}

func daysIn(year, month int) int {
	switch month {
	case 2:
		if year%4 == 0 && (year%100 != 0 || year%400 == 0) {
			return 29
		}
		return 28
	case 4, 6, 9, 11:
		return 30
	}
	return 31
}

// FormatTime renders t as RFC 3339 UTC with the fraction only when present,
// the form used in alert documents.
func FormatTime(t time.Time) string {
	return t.UTC().Format(time.RFC3339Nano)
}
