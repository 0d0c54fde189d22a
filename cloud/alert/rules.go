package alert

// Rule is the rule of DESIGN.md an alert enforces and the regulation's
// articles it comes from, in Chinese and English: every delivery names it,
// so a supervisor sees on what ground the alert stands.
type Rule struct {
	Number   int    `json:"number"`   // DESIGN.md, "The rules it enforces"
	ZH       string `json:"zh"`       // the rule, in Chinese
	EN       string `json:"en"`       // the rule, in English
	Articles string `json:"articles"` // the articles, as DESIGN.md cites them
}

// The regulations (DESIGN.md, "Where each rule comes from").
const (
	regR = "《云和县住房和城乡建设局行政执法音像记录管理制度》"
	regL = "《龙泉市医疗保障局执法音像记录管理制度》"
)

var (
	rule1 = &Rule{1, "音像资料须在24小时内存储至信息系统或专用存储设备", "footage must reach the agency's storage within 24 hours of recording",
		regR + "第十二条; " + regL + "第七条"}
	rule2 = &Rule{2, "中断后恢复录制须口头说明原因；无法恢复的须报告并书面说明", "a resumed recording must state the reason aloud; one that cannot resume is reported and explained in writing",
		regR + "第九条第一款; 第六条 (书面记录 written record)"}
	rule3 = &Rule{3, "不得剪接、删改、删除原始音像资料", "originals are never cut, edited, deleted or re-recorded",
		regR + "第九条第二款, 第十五条"}
	rule7 = &Rule{7, "专人检查记录仪电池容量和存储空间，保持设备正常", "a named custodian checks battery capacity and storage space and keeps devices working",
		regR + "第十条; " + regL + "第六条"}
	rule8 = &Rule{8, "音像记录起止时间须与案卷一致：记录仪时钟须准确", "times in footage must match the case documents: recorder clocks must be right",
		regR + "第八条"}
	rule5 = &Rule{5, "未经批准不得对外提供；所有访问均须记录", "footage is not handed out without approval; every access is recorded",
		regR + "第十四条, 第十五条; " + regL + "第八条, 第九条"}
)

// ruleOf maps each alert kind to its rule. Kinds are the packages' own
// words (timeline, health, analysis, store); they are spelled here because
// package alert sits below them.
var ruleOf = map[string]*Rule{
	"interruption-unexplained": rule2, "interruption-explained": rule2, "interruption-unchecked": rule2,
	"reason-check-failed": rule2, "abnormal-no-resume": rule2,
	"sequence-hole": rule3, "sequence-tail-lost": rule3, "sequence-reused": rule3, "overlap": rule3, "hash-mismatch": rule3,
	"echoed-receipt": rule3, "receipt-conflict": rule3, "evidence-corrupt": rule3, "audit-chain-break": rule3, "event-log-conflict": rule3,
	"late-upload": rule1, "upload-overdue": rule1, "offload-due-soon": rule1,
	"dock-offline": rule1, "buffer-filling": rule1, "backlog-old": rule1, "report-time": rule1,
	"battery-worn": rule7, "battery-hot": rule7, "storage-errors": rule7, "storage-low": rule7, "storage-worn": rule7,
	"firmware-old": rule7, "slot-fault": rule7,
	"clock-drift":      rule8,
	"recorder-refused": rule5,
}

// RuleOf returns the rule an alert kind enforces, nil for a kind no rule
// names.
func RuleOf(kind string) *Rule { return ruleOf[kind] }
