package console

import (
	"fmt"
	"html/template"
	"net/http"
	"strings"
	"time"
)

// Languages: zh-CN by default, English on request (cookie berth_lang).
const (
	langZH = "zh-CN"
	langEN = "en"
)

func langOf(r *http.Request) string {
	if c, err := r.Cookie(langCookie); err == nil && c.Value == langEN {
		return langEN
	}
	return langZH
}

// localizer translates and formats for one request: templates call
// .L.T "key" and .L.Time t.
type localizer struct {
	lang string
	loc  *time.Location
}

// T translates a message key; an unknown key is shown as itself.
func (l localizer) T(key string) string {
	m, ok := messages[key]
	if !ok {
		return key
	}
	if l.lang == langEN {
		return m[1]
	}
	return m[0]
}

// Time formats t in the agency's zone, with the zone's name; "—" if zero.
func (l localizer) Time(t time.Time) string {
	if t.IsZero() {
		return "—"
	}
	return t.In(l.loc).Format("2006-01-02 15:04:05 MST")
}

// Clock formats t's time of day in the agency's zone.
func (l localizer) Clock(t time.Time) string {
	if t.IsZero() {
		return "—"
	}
	return t.In(l.loc).Format("15:04:05")
}

// Zone names the agency's time zone.
func (l localizer) Zone() string { return l.loc.String() }

var funcs = template.FuncMap{
	"bytes": humanBytes,
	"pct": func(a, b int64) string {
		if b <= 0 {
			return "—"
		}
		return fmt.Sprintf("%.0f%%", 100*float64(a)/float64(b))
	},
	"join":    strings.Join,
	"slot":    SlotName,
	"list":    func(s ...string) []string { return s },
	"msToS":   func(ms int64) float64 { return float64(ms) / 1000 },
	"deref":   func(b *bool) bool { return b != nil && *b },
	"seconds": func(f float64) string { return fmt.Sprintf("%.1f s", f) },
}

func humanBytes(n int64) string {
	const unit = 1024
	if n < unit {
		return fmt.Sprintf("%d B", n)
	}
	div, exp := int64(unit), 0
	for m := n / unit; m >= unit; m /= unit {
		div *= unit
		exp++
	}
	return fmt.Sprintf("%.1f %ciB", float64(n)/float64(div), "KMGTPE"[exp])
}

// messages: key -> {zh-CN, en}. Alert kinds, severities, states and roles
// are keys too, so the words the store uses are translated in one place.
var messages = map[string][2]string{
	"app":                 {"执法记录仪坞站 · 管理控制台", "berth · console"},
	"signin":              {"登录", "Sign in"},
	"signout":             {"退出", "Sign out"},
	"name":                {"账号", "Name"},
	"password":            {"密码", "Password"},
	"wrong-credentials":   {"账号或密码错误", "Wrong name or password"},
	"throttled":           {"尝试次数过多，请稍后再试", "Too many attempts: wait a minute"},
	"unavailable":         {"服务暂不可用", "Service unavailable"},
	"inbox":               {"告警收件箱", "Alert inbox"},
	"fleet":               {"设备台账", "Fleet"},
	"alert":               {"告警", "Alert"},
	"filter":              {"筛选", "Filter"},
	"all":                 {"全部", "All"},
	"kind":                {"类型", "Kind"},
	"severity":            {"级别", "Severity"},
	"state":               {"状态", "State"},
	"unit":                {"单位", "Unit"},
	"officer":             {"民警", "Officer"},
	"recorder":            {"记录仪", "Recorder"},
	"dock":                {"坞站", "Dock"},
	"slot":                {"槽位", "Slot"},
	"at":                  {"发生时间", "When"},
	"opened":              {"告警时间", "Raised"},
	"title":               {"事由", "What"},
	"from":                {"起", "From"},
	"to":                  {"止", "To"},
	"counts":              {"统计", "Counts"},
	"no-alerts":           {"没有符合条件的告警", "No alerts match"},
	"next-page":           {"下一页", "Next page"},
	"signin-oidc":         {"使用统一身份认证登录", "Sign in with the agency's identity provider"},
	"oidc-refused":        {"统一身份认证登录被拒绝", "Sign-in with the identity provider was refused"},
	"oidc-unknown-person": {"统一身份认证通过，但人员名册中没有此人（或已停用）", "The identity provider vouched for someone who is not an enabled person of the registry"},
	"oidc-unavailable":    {"统一身份认证服务不可用", "The identity provider is unavailable"},
	"counts-bounded":      {"告警超过%d条，仅统计最紧急的这些", "more than %d alerts: counted among the most urgent of them"},
	"first-page":          {"第一页", "First page"},
	"all-units":           {"全部单位", "All units"},
	"this-page":           {"本页", "this page"},
	"docks-by-id":         {"按编号列出坞站", "List the docks by id"},
	"fleet-paged":         {"记录仪数量较多：按编号分页列出；待检修排序请按单位查看。", "A large fleet: listed by serial one page at a time; choose a unit for its pull list, most urgent first."},
	"stopped-at":          {"中断时间", "Stopped"},
	"resumed-at":          {"恢复时间", "Resumed"},
	"stop-cause":          {"设备记录的中断原因", "Stop cause (device)"},
	"device-log":          {"记录仪日志（中断前后）", "Recorder's event log around the gap"},
	"event-disputed":      {"（另一坞站读数不同，以首次读数为准）", "(disputed: another dock read it otherwise; the first read stands)"},
	"speech":              {"恢复后开头的讲话", "Speech at the restart"},
	"speech-seconds":      {"佩戴者讲话时长", "Wearer's speech"},
	"reason-spoken":       {"是否说明原因", "Reason stated"},
	"yes":                 {"是", "yes"},
	"no":                  {"否", "no"},
	"regions":             {"检测到的声音片段", "Sounds heard"},
	"source":              {"来源", "Source"},
	"counted":             {"计入", "Counted"},
	"why":                 {"依据", "Why"},
	"transcript":          {"转写", "Transcript"},
	"rule":                {"违反的规定", "Rule"},
	"day":                 {"当天时间线", "The recorder's day"},
	"player":              {"恢复录像开头", "Opening of the resumed recording"},
	"no-footage-role":     {"您的角色无权查看音像资料（辅助人员不得查看、导出音像记录）", "Your role may not view footage (auxiliary staff never view or export footage)"},
	"no-footage":          {"该段录像尚未入库", "This segment is not in the evidence store yet"},
	"footage-logged":      {"每次查看均记入访问日志", "Every view is written to the access log"},
	"acknowledge":         {"确认", "Acknowledge"},
	"explain":             {"补充书面说明", "Add written explanation"},
	"close":               {"关闭", "Close"},
	"explanation":         {"书面说明", "Written explanation"},
	"history":             {"处理记录", "History"},
	"no-history":          {"尚无处理记录", "Nothing done yet"},
	"by":                  {"处理人", "By"},
	"action":              {"操作", "Action"},
	"comment":             {"说明", "Comment"},
	"detail":              {"详情", "Detail"},
	"pull-list":           {"待检修（优先处理）", "Pull for maintenance"},
	"recorders":           {"记录仪", "Recorders"},
	"docks":               {"坞站", "Docks"},
	"battery-health":      {"电池健康", "Battery health"},
	"battery-measured":    {"实测容量", "Measured capacity"},
	"cycles":              {"循环次数", "Cycles"},
	"temperature":         {"温度", "Temp."},
	"storage-health":      {"存储健康", "Storage health"},
	"free":                {"剩余空间", "Free"},
	"errors":              {"错误计数", "Errors"},
	"drift":               {"时钟偏差", "Clock drift"},
	"firmware":            {"固件", "Firmware"},
	"last-docking":        {"最近入坞", "Last docking"},
	"findings":            {"问题", "Findings"},
	"online":              {"在线", "online"},
	"offline":             {"离线", "offline"},
	"buffer":              {"缓存占用", "Buffer"},
	"backlog":             {"待上传", "Backlog"},
	"slots":               {"槽位", "Slots"},
	"export-csv":          {"导出 CSV", "Export CSV"},
	"times-in":            {"时间均为", "Times in"},
	"not-found":           {"未找到", "Not found"},
	"back":                {"返回", "Back"},
	"ok":                  {"正常", "OK"},
	"power-cycle":         {"重新上电", "Power-cycle"},
	"link-expired":        {"告警链接已过期：请在控制台收件箱中打开该告警", "This alert link has expired: open the alert from the console's inbox"},
	"link-forged":         {"告警链接无效（签名不符），已记录", "This alert link is not valid (its signature does not match); the attempt is recorded"},
	"link-no-alert":       {"链接所指的告警不存在", "The alert this link names does not exist"},
	"no-links":            {"本控制台未启用告警链接", "Alert links are not enabled on this console"},
	"evidence":            {"音像资料", "Evidence"},
	"exports":             {"导出审批", "Exports"},
	"case":                {"案件编号", "Case number"},
	"party":               {"当事人", "Inspected party"},
	"search":              {"查询", "Search"},
	"no-footage-rows":     {"没有符合条件的录像", "No footage matches"},
	"play":                {"播放", "Play"},
	"start":               {"开始", "Start"},
	"end":                 {"结束", "End"},
	"cases":               {"案件", "Cases"},
	"held":                {"法律保全", "Legal hold"},
	"in-store":            {"已入库", "In storage"},
	"request-export":      {"申请导出选中录像", "Request an export of those ticked"},
	"recipient":           {"接收单位", "Recipient"},
	"purpose":             {"用途", "Purpose"},
	"reason":              {"理由", "Reason"},
	"link-case":           {"关联案件", "Link to a case"},
	"case-type":           {"案件类型", "Case type"},
	"set-hold":            {"设置法律保全", "Set legal hold"},
	"lift-hold":           {"解除法律保全", "Lift legal hold"},
	"approve":             {"批准", "Approve"},
	"refuse":              {"驳回", "Refuse"},
	"package":             {"打包", "Package"},
	"download":            {"下载", "Download"},
	"requested-by":        {"申请人", "Requested by"},
	"segments":            {"录像段", "Segments"},
	"no-exports":          {"暂无导出申请", "No exports"},
	"requested":           {"待审批", "requested"},
	"approved":            {"已批准", "approved"},
	"refused":             {"已驳回", "refused"},
	"packaged":            {"已打包", "packaged"},
	"admin":               {"系统管理", "Admin"},
	"units":               {"单位", "Units"},
	"custodian":           {"装备管理员", "Custodian"},
	"enrolled":            {"已登记", "Enrolled"},
	"people":              {"人员", "People"},
	"display-name":        {"姓名", "Display name"},
	"role":                {"角色", "Role"},
	"add-person":          {"添加人员", "Add a person"},
	"edit-person":         {"修改人员", "Edit person"},
	"edit":                {"修改", "Edit"},
	"save":                {"保存", "Save"},
	"disabled":            {"已停用", "Disabled"},
	"disable":             {"停用（立即终止其登录会话和API令牌）", "Disabled (ends their sessions and revokes their API tokens at once)"},
	"active":              {"在用", "Active"},
	"change":              {"变更", "Change"},
	"status":              {"状态", "Status"},
	// severities
	"critical": {"严重", "critical"},
	"warning":  {"警告", "warning"},
	"info":     {"提示", "info"},
	// states
	"open":         {"待处理", "open"},
	"acknowledged": {"已确认", "acknowledged"},
	"closed":       {"已关闭", "closed"},
	// actions in the history
	"history-acknowledge": {"确认", "acknowledged"},
	"history-explain":     {"书面说明", "explained"},
	"history-close":       {"关闭", "closed"},
	// roles
	"role-officer":    {"民警", "officer"},
	"role-auxiliary":  {"辅助人员", "auxiliary"},
	"role-custodian":  {"装备管理员", "custodian"},
	"role-supervisor": {"科室负责人", "supervisor"},
	"role-admin":      {"系统管理员", "admin"},
	// alert kinds
	"interruption-unexplained": {"录像中断后恢复，未说明原因", "interrupted, resumed without the spoken reason"},
	"interruption-explained":   {"录像中断后恢复，已说明原因", "interrupted, resumed with the spoken reason"},
	"interruption-unchecked":   {"录像中断后恢复，未能检查", "interrupted and resumed, not checked"},
	"abnormal-no-resume":       {"异常中断且未恢复", "stopped abnormally, never resumed"},
	"sequence-hole":            {"录像序号缺失", "sequence numbers missing"},
	"sequence-reused":          {"录像序号重复", "sequence number reused"},
	"overlap":                  {"录像时间重叠", "overlapping segments"},
	"hash-mismatch":            {"校验值不一致", "hash mismatch"},
	"late-upload":              {"超过24小时入库", "reached storage after 24 h"},
	"upload-overdue":           {"超时未入库", "not in storage, overdue"},
	"offload-due-soon":         {"即将超过入库时限", "offload due soon"},
	"battery-worn":             {"电池老化", "battery worn"},
	"battery-hot":              {"电池过热", "battery hot"},
	"storage-errors":           {"存储错误", "storage errors"},
	"storage-low":              {"存储空间不足", "storage low"},
	"storage-worn":             {"存储老化", "storage worn"},
	"clock-drift":              {"时钟偏差", "clock drift"},
	"firmware-old":             {"固件过旧", "firmware old"},
	"dock-offline":             {"坞站离线", "dock offline"},
	"buffer-filling":           {"坞站缓存将满", "dock buffer filling"},
	"backlog-old":              {"坞站积压过久", "dock backlog old"},
	"recorder-refused":         {"拒绝未授权记录仪", "recorder refused"},
	"receipt-conflict":         {"回执冲突", "receipt conflict"},
	"echoed-receipt":           {"伪造回执", "echoed receipt"},
	"event-log-conflict":       {"记录仪日志读数冲突", "event log conflict"},
	"evidence-corrupt":         {"证据损坏", "evidence corrupt"},
	"report-time":              {"报告时间异常", "report time out of range"},
}
