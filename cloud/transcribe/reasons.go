package transcribe

import (
	"slices"
	"strings"
)

// The reasons the recording rule names for stopping (design rule 2), as
// words for the evidence.
const (
	ReasonFault   = "equipment fault"
	ReasonDamage  = "damage"
	ReasonWeather = "bad weather"
	ReasonBattery = "low battery"
	ReasonStorage = "full storage"
	ReasonPlace   = "change of place"
)

// cues are the words (lower-case English, Chinese) that state each reason.
var cues = []struct {
	reason string
	words  []string
}{
	{ReasonFault, []string{"fault", "malfunction", "broke down", "not working", "stopped working", "error", "故障", "出问题", "坏了", "失灵", "死机"}},
	{ReasonDamage, []string{"damage", "broken", "cracked", "dropped", "损坏", "摔坏", "破损", "损毁"}},
	{ReasonWeather, []string{"weather", "rain", "storm", "snow", "wind", "typhoon", "天气", "下雨", "暴雨", "大雨", "大风", "台风", "下雪", "雷"}},
	{ReasonBattery, []string{"battery", "power", "charge", "电量", "电池", "没电", "低电", "充电"}},
	{ReasonStorage, []string{"storage", "memory", "card full", "disk full", "no space", "存储", "内存", "空间不足", "存满", "卡满"}},
	{ReasonPlace, []string{"change of place", "moving to", "move to", "relocate", "relocating", "relocated", "another location", "new location", "场所", "地点", "转移", "换个地方", "更换场地", "场地"}},
}

// Classify returns the reasons a transcript states, in the rule's order;
// none when it names none of them.
func Classify(text string) []string {
	t := strings.ToLower(text)
	var out []string
	for _, c := range cues {
		if slices.ContainsFunc(c.words, func(w string) bool { return contains(t, w) }) {
			out = append(out, c.reason)
		}
	}
	return out
}

// contains finds w in t; a Latin word must be a whole word of t, or its
// plural ("rain" is not in "train", "wind" not in "window"); Chinese has
// no word breaks to respect.
func contains(t, w string) bool {
	if w[0] >= 0x80 {
		return strings.Contains(t, w)
	}
	for i := 0; ; {
		j := strings.Index(t[i:], w)
		if j < 0 {
			return false
		}
		k, e := i+j, i+j+len(w)
		if e < len(t) && t[e] == 's' {
			e++
		}
		if (k == 0 || !isLetter(t[k-1])) && (e == len(t) || !isLetter(t[e])) {
			return true
		}
		i += j + 1
	}
}

func isLetter(b byte) bool { return b >= 'a' && b <= 'z' }
