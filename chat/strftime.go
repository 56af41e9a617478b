package chat

import (
	"strconv"
	"strings"
	"time"
)

// Strftime formats t with a Python/C strftime format, as the strftime_now
// function of chat templates does. It knows %Y %y %m %d %e %j %H %I %M %S %p
// %b %B %a %A %Z %z and %%, plus the glibc "%-" forms without padding
// (%-d, %-m, %-H, %-I, %-M, %-S, %-j); other directives are copied unchanged.
func Strftime(t time.Time, format string) string {
	var b strings.Builder
	pad := func(n, width int, noPad bool) {
		s := strconv.Itoa(n)
		if !noPad {
			for i := len(s); i < width; i++ {
				b.WriteByte('0')
			}
		}
		b.WriteString(s)
	}
	for i := 0; i < len(format); i++ {
		c := format[i]
		if c != '%' || i+1 >= len(format) {
			b.WriteByte(c)
			continue
		}
		j := i + 1
		noPad := false
		if format[j] == '-' && j+1 < len(format) {
			noPad = true
			j++
		}
		hour12 := t.Hour() % 12
		if hour12 == 0 {
			hour12 = 12
		}
		switch format[j] {
		case 'Y':
			b.WriteString(strconv.Itoa(t.Year()))
		case 'y':
			pad(t.Year()%100, 2, noPad)
		case 'm':
			pad(int(t.Month()), 2, noPad)
		case 'd':
			pad(t.Day(), 2, noPad)
		case 'e':
			if t.Day() < 10 && !noPad {
				b.WriteByte(' ')
			}
			b.WriteString(strconv.Itoa(t.Day()))
		case 'j':
			pad(t.YearDay(), 3, noPad)
		case 'H':
			pad(t.Hour(), 2, noPad)
		case 'I':
			pad(hour12, 2, noPad)
		case 'M':
			pad(t.Minute(), 2, noPad)
		case 'S':
			pad(t.Second(), 2, noPad)
		case 'p':
			b.WriteString(t.Format("PM"))
		case 'b':
			b.WriteString(t.Format("Jan"))
		case 'B':
			b.WriteString(t.Format("January"))
		case 'a':
			b.WriteString(t.Format("Mon"))
		case 'A':
			b.WriteString(t.Format("Monday"))
		case 'Z':
			b.WriteString(t.Format("MST"))
		case 'z':
			b.WriteString(t.Format("-0700"))
		case '%':
			b.WriteByte('%')
		default:
			b.WriteString(format[i : j+1])
		}
		i = j
	}
	return b.String()
}
