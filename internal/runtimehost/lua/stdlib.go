package lua

import (
	"strings"
	"time"

	"github.com/ncruces/go-strftime"
	glua "github.com/yuin/gopher-lua"
)

// openOs opens the part of os that Nakama gives modules: clock, date, difftime and time, in UTC. Nothing
// that touches the process, files or the environment.
func openOs(L *glua.LState) int {
	start := time.Now()
	mod := L.RegisterModule(glua.OsLibName, map[string]glua.LGFunction{
		"clock": func(L *glua.LState) int {
			return push(L, glua.LNumber(time.Since(start).Seconds()))
		},
		"difftime": func(L *glua.LState) int {
			return push(L, glua.LNumber(L.CheckInt64(1)-L.CheckInt64(2)))
		},
		"date": osDate,
		"time": osTime,
	})
	return push(L, mod)
}

// osDate is os.date(format = "%c", time = now), always in UTC as in Nakama; "*t" gives a table (whose
// wday counts from 0 = Sunday, as Nakama's does, where Lua's counts from 1).
func osDate(L *glua.LState) int {
	format := strings.TrimPrefix(L.OptString(1, "%c"), "!")
	t := time.Now().UTC()
	if L.GetTop() >= 2 {
		t = time.Unix(L.CheckInt64(2), 0).UTC()
	}
	if strings.HasPrefix(format, "*t") {
		tb := L.CreateTable(0, 9)
		for k, v := range map[string]int{
			"year": t.Year(), "month": int(t.Month()), "day": t.Day(), "hour": t.Hour(), "min": t.Minute(),
			"sec": t.Second(), "wday": int(t.Weekday()), "yday": t.YearDay(), // wday from 0, as Nakama has it
		} {
			tb.RawSetString(k, glua.LNumber(v))
		}
		tb.RawSetString("isdst", glua.LFalse)
		return push(L, tb)
	}
	return push(L, glua.LString(strftime.Format(format, t)))
}

// osTime is os.time(table = now) in Unix seconds, the table read as UTC.
func osTime(L *glua.LState) int {
	if L.GetTop() == 0 {
		return push(L, glua.LNumber(time.Now().Unix()))
	}
	return push(L, glua.LNumber(tableTime(L.CheckTable(1)).Unix()))
}

// tableTime reads a date table as os.time takes it, in UTC: year, month, day, hour (12 when absent), min,
// sec and, for nk.time, msec.
func tableTime(t *glua.LTable) time.Time {
	field := func(name string, def int) int {
		if n, ok := t.RawGetString(name).(glua.LNumber); ok {
			return int(n)
		}
		return def
	}
	return time.Date(field("year", -1), time.Month(field("month", -1)), field("day", -1), field("hour", 12),
		field("min", 0), field("sec", 0), field("msec", 0)*int(time.Millisecond), time.UTC)
}

const bit32LibName = "bit32"

// openBit32 opens Lua 5.2's bit32, which Nakama adds to gopher-lua's Lua 5.1: numbers are taken modulo
// 2^32.
func openBit32(L *glua.LState) int {
	fold := func(init uint32, op func(a, b uint32) uint32) glua.LGFunction {
		return func(L *glua.LState) int {
			acc := init
			for i := 1; i <= L.GetTop(); i++ {
				acc = op(acc, u32(L, i))
			}
			return push(L, glua.LNumber(acc))
		}
	}
	band := fold(^uint32(0), func(a, b uint32) uint32 { return a & b })
	mod := L.RegisterModule(bit32LibName, map[string]glua.LGFunction{
		"band": band,
		"bor":  fold(0, func(a, b uint32) uint32 { return a | b }),
		"bxor": fold(0, func(a, b uint32) uint32 { return a ^ b }),
		"btest": func(L *glua.LState) int {
			band(L)
			return push(L, glua.LBool(L.Get(-1).(glua.LNumber) != 0))
		},
		"bnot":    func(L *glua.LState) int { return push(L, glua.LNumber(^u32(L, 1))) },
		"lshift":  func(L *glua.LState) int { return push(L, glua.LNumber(shift(u32(L, 1), L.CheckInt(2)))) },
		"rshift":  func(L *glua.LState) int { return push(L, glua.LNumber(shift(u32(L, 1), -L.CheckInt(2)))) },
		"arshift": arshift,
		"lrotate": func(L *glua.LState) int { return push(L, glua.LNumber(rotate(u32(L, 1), L.CheckInt(2)))) },
		"rrotate": func(L *glua.LState) int { return push(L, glua.LNumber(rotate(u32(L, 1), -L.CheckInt(2)))) },
		"extract": func(L *glua.LState) int {
			field, width := bitField(L, 2)
			return push(L, glua.LNumber(u32(L, 1)>>field&mask(width)))
		},
		"replace": func(L *glua.LState) int {
			n, v := u32(L, 1), u32(L, 2)
			field, width := bitField(L, 3)
			m := mask(width) << field
			return push(L, glua.LNumber(n&^m|v<<field&m))
		},
	})
	return push(L, mod)
}

// u32 reads argument n modulo 2^32.
func u32(L *glua.LState, n int) uint32 { return uint32(int64(L.CheckNumber(n))) }

// shift shifts left by disp, or right by -disp; 32 places or more leave nothing.
func shift(x uint32, disp int) uint32 {
	switch {
	case disp <= -32 || disp >= 32:
		return 0
	case disp >= 0:
		return x << disp
	}
	return x >> -disp
}

func arshift(L *glua.LState) int {
	x, disp := u32(L, 1), L.CheckInt(2)
	if disp < 0 || x&(1<<31) == 0 {
		return push(L, glua.LNumber(shift(x, -disp)))
	}
	if disp >= 32 {
		return push(L, glua.LNumber(^uint32(0)))
	}
	return push(L, glua.LNumber(uint32(int32(x)>>disp)))
}

func rotate(x uint32, disp int) uint32 {
	disp &= 31
	return x<<disp | x>>(32-disp)
}

// bitField reads field and width (default 1) from arguments n and n+1: the bits field to field+width-1.
func bitField(L *glua.LState, n int) (uint32, int) {
	field, width := L.CheckInt(n), L.OptInt(n+1, 1)
	if field < 0 || width <= 0 || field+width > 32 {
		L.ArgError(n, "trying to access non-existent bits")
	}
	return uint32(field), width
}

func mask(width int) uint32 { return ^(^uint32(0) << width) }
