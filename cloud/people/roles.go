package people

import (
	"slices"
	"strings"

	"github.com/berthdock/berth/cloud/health"
	"github.com/berthdock/berth/cloud/store"
)

// Roles (DESIGN.md "Web").
const (
	RoleOfficer    = "officer"
	RoleAuxiliary  = "auxiliary"  // 辅助人员: keeps and maintains equipment, never footage
	RoleCustodian  = "custodian"  // 装备管理员: may be auxiliary staff, so no footage either
	RoleSupervisor = "supervisor" // 科室负责人: judges alerts, views footage of their units
	RoleAdmin      = "admin"      // keeps the registry and people, in every unit; no footage
)

// Roles lists the roles in order of the console's menus.
var Roles = []string{RoleOfficer, RoleAuxiliary, RoleCustodian, RoleSupervisor, RoleAdmin}

// ValidRole reports whether r is one of Roles.
func ValidRole(r string) bool { return slices.Contains(Roles, r) }

// Principal is a signed-in person acting through the console or the API.
type Principal struct {
	Name        string   `json:"name"`
	DisplayName string   `json:"display_name,omitempty"`
	Role        string   `json:"role"`
	Units       []string `json:"units"`
}

func principalOf(p store.Person) Principal {
	return Principal{Name: p.Name, DisplayName: p.DisplayName, Role: p.Role, Units: p.Units}
}

// Label is how the console names the person: the display name, else the
// sign-in name.
func (p Principal) Label() string {
	if p.DisplayName != "" {
		return p.DisplayName
	}
	return p.Name
}

// Scope is the units whose alerts and devices the person sees: nil (every
// unit) for an admin, else their units (possibly none).
func (p Principal) Scope() []string {
	if p.Role == RoleAdmin {
		return nil
	}
	if p.Units == nil {
		return []string{}
	}
	return p.Units
}

// InScope reports whether unit is within the person's scope.
func (p Principal) InScope(unit string) bool {
	return p.Role == RoleAdmin || slices.Contains(p.Units, unit)
}

// CanSeeAlerts: the inbox and alert pages (every role but officer).
func (p Principal) CanSeeAlerts() bool { return p.Role != RoleOfficer && ValidRole(p.Role) }

// CanSeeFleet: the custodian's fleet and dock pages.
func (p Principal) CanSeeFleet() bool { return p.Role != RoleOfficer && ValidRole(p.Role) }

// CanViewFootage: only supervisors view footage (rule 6: auxiliary staff
// and custodians, who may be auxiliary staff, never do; rule 5: copies go
// through the responsible section, not this view).
func (p Principal) CanViewFootage() bool { return p.Role == RoleSupervisor }

// CanManagePeople: admins keep the people of the registry.
func (p Principal) CanManagePeople() bool { return p.Role == RoleAdmin }

// equipmentKinds are the alert kinds about equipment, not footage: a
// custodian's or auxiliary's to acknowledge and close. Every other kind is
// footage-related (default deny).
var equipmentKinds = map[string]bool{
	health.KindBatteryWorn: true, health.KindBatteryHot: true, health.KindStorageErrors: true,
	health.KindStorageLow: true, health.KindStorageWorn: true, health.KindClockDrift: true,
	health.KindFirmwareOld: true, health.KindDockOffline: true, health.KindBufferFilling: true,
	health.KindBacklogOld: true,
}

// FootageRelated reports whether an alert kind concerns footage (an
// interruption, a hole, a hash, an upload deadline, a receipt...) rather
// than equipment.
func FootageRelated(kind string) bool { return !equipmentKinds[kind] }

// CanAct reports whether the person may take action (store.ActionAcknowledge,
// ActionExplain, ActionClose) on alert a, and if not, why. Footage-related
// alerts are acknowledged and closed by supervisors only; anyone who sees
// an alert may add a written explanation to its history.
func (p Principal) CanAct(a store.Alert, action string) (bool, string) {
	switch {
	case !p.CanSeeAlerts():
		return false, "role " + p.Role + " has no alert inbox"
	case !p.InScope(a.Unit):
		return false, "alert of unit " + a.Unit + " is outside " + strings.Join(p.Units, ",")
	case action == store.ActionExplain:
		return true, ""
	case action != store.ActionAcknowledge && action != store.ActionClose:
		return false, "unknown action " + action
	case FootageRelated(a.Kind) && p.Role != RoleSupervisor:
		return false, "a footage-related alert is acknowledged and closed by a supervisor (rule 6)"
	}
	return true, ""
}
