package console

import (
	"net/http"
	"net/url"
	"strings"

	"github.com/berthdock/berth/cloud/people"
	"github.com/berthdock/berth/cloud/store"
)

// registry is what the admin page and GET /api/admin/registry show: the
// enrolment registry (units, docks, recorders) and the people with their
// roles.
type registry struct {
	Units     []unitJSON     `json:"units"`
	Docks     []dockJSON     `json:"docks"`
	Recorders []recorderJSON `json:"recorders"`
	People    []store.Person `json:"people"`
	Roles     []string       `json:"roles"`
	// NextDock and NextRecorder continue the docks and recorders, listed
	// registryPage at a time (?after_dock=, ?after_recorder=).
	NextDock     string `json:"next_dock,omitempty"`
	NextRecorder string `json:"next_recorder,omitempty"`
}

// registryPage is how many docks and recorders the registry lists at a
// time by default (the Console's registryPage): the design's 10k docks
// and 100k recorders are not one page.
const registryPage = 200

type unitJSON struct {
	ID        string `json:"id"`
	Name      string `json:"name"`
	Custodian string `json:"custodian"`
	By        string `json:"enrolled_by"`
}

type dockJSON struct {
	ID       string `json:"id"`
	Unit     string `json:"unit"`
	Enrolled bool   `json:"enrolled"`
}

type recorderJSON struct {
	Serial string `json:"serial"`
	Unit   string `json:"unit"`
	By     string `json:"enrolled_by"`
}

func (c *Console) registry(r *request) (registry, error) {
	reg := registry{Units: []unitJSON{}, Docks: []dockJSON{}, Recorders: []recorderJSON{}, People: []store.Person{}, Roles: people.Roles}
	if !r.who.CanManagePeople() {
		return reg, refuse(http.StatusForbidden, "the registry and people are an admin's")
	}
	us, err := c.o.Store.Units(r.ctx)
	if err != nil {
		return reg, err
	}
	for _, u := range us {
		reg.Units = append(reg.Units, unitJSON{ID: u.ID, Name: u.Name, Custodian: u.Custodian, By: u.EnrolledBy})
	}
	q := r.URL.Query()
	ds, err := c.o.Store.DocksPage(r.ctx, nil, q.Get("after_dock"), c.registryPage)
	if err != nil {
		return reg, err
	}
	for _, d := range ds {
		reg.Docks = append(reg.Docks, dockJSON{ID: d.ID, Unit: d.Unit, Enrolled: d.Enrolled})
	}
	if len(ds) == c.registryPage {
		reg.NextDock = ds[len(ds)-1].ID
	}
	rs, err := c.o.Store.RecordersPage(r.ctx, q.Get("after_recorder"), c.registryPage)
	if err != nil {
		return reg, err
	}
	for _, x := range rs {
		reg.Recorders = append(reg.Recorders, recorderJSON{Serial: x.Serial, Unit: x.Unit, By: x.EnrolledBy})
	}
	if len(rs) == c.registryPage {
		reg.NextRecorder = rs[len(rs)-1].Serial
	}
	ps, err := c.o.Store.People(r.ctx)
	if err != nil {
		return reg, err
	}
	reg.People = append(reg.People, ps...)
	return reg, nil
}

// newPerson is what adding a person names.
type newPerson struct {
	Name        string   `json:"name"`
	DisplayName string   `json:"display_name"`
	Role        string   `json:"role"`
	Units       []string `json:"units"`
	Password    string   `json:"password"`
}

// addPerson adds a person with a role through package people (an admin
// only; an existing name is refused, not replaced).
func (c *Console) addPerson(r *request, p newPerson) (store.Person, error) {
	if !r.who.CanManagePeople() {
		return store.Person{}, refuse(http.StatusForbidden, "people are added by an admin")
	}
	p.Name = strings.TrimSpace(p.Name)
	if _, ok, err := c.o.Store.PersonByName(r.ctx, p.Name); err != nil {
		return store.Person{}, err
	} else if ok {
		return store.Person{}, refuse(http.StatusConflict, "a person named "+p.Name+" exists already")
	}
	if len(p.Password) < 12 {
		return store.Person{}, refuse(http.StatusBadRequest, "a password of at least 12 characters")
	}
	sp := store.Person{Name: p.Name, DisplayName: strings.TrimSpace(p.DisplayName), Role: p.Role, Units: p.Units}
	if err := c.o.People.Add(r.ctx, sp, p.Password, r.who.Name); err != nil {
		return store.Person{}, custodyError(err)
	}
	c.o.Log.Info("console: person added", "name", sp.Name, "role", sp.Role, "by", r.who.Name)
	got, _, err := c.o.Store.PersonByName(r.ctx, sp.Name)
	return got, err
}

// personView is what the person page and GET /api/people/{name} show: the
// person and the append-only history of changes to them.
type personView struct {
	Person  store.Person         `json:"person"`
	Changes []store.PersonChange `json:"changes"`
	Roles   []string             `json:"-"`
}

func (c *Console) personView(r *request) (personView, error) {
	v := personView{Roles: people.Roles, Changes: []store.PersonChange{}}
	if !r.who.CanManagePeople() {
		return v, refuse(http.StatusForbidden, "people are kept by an admin")
	}
	name := r.PathValue("name")
	p, ok, err := c.o.Store.PersonByName(r.ctx, name)
	if err != nil {
		return v, err
	}
	if !ok {
		return v, refuse(http.StatusNotFound, "no person "+name)
	}
	p.PasswordHash = ""
	v.Person = p
	ch, err := c.o.Store.PersonChanges(r.ctx, name)
	if err != nil {
		return v, err
	}
	v.Changes = append(v.Changes, ch...)
	return v, nil
}

// editPerson applies an admin's change to person {name}; the store
// records it with who made it. An admin may neither disable themselves
// nor give up their own admin role (the registry keeps someone to mend
// it).
func (c *Console) editPerson(r *request, e store.PersonEdit) (personView, error) {
	if !r.who.CanManagePeople() {
		return personView{}, refuse(http.StatusForbidden, "people are kept by an admin")
	}
	name := r.PathValue("name")
	if name == r.who.Name && (e.Disabled || e.Role != people.RoleAdmin) {
		return personView{}, refuse(http.StatusConflict, "an admin may not disable themselves or give up their own admin role")
	}
	e.DisplayName = strings.TrimSpace(e.DisplayName)
	if _, err := c.o.People.Edit(r.ctx, name, e, r.who.Name, r.who.Role); err != nil {
		return personView{}, custodyError(err)
	}
	c.o.Log.Info("console: person changed", "name", name, "role", e.Role, "units", strings.Join(e.Units, ","), "disabled", e.Disabled,
		"by", r.who.Name)
	return c.personView(r)
}

// unitList reads "u1, u2" into units.
func unitList(s string) []string {
	var units []string
	for _, u := range strings.Split(s, ",") {
		if u = strings.TrimSpace(u); u != "" {
			units = append(units, u)
		}
	}
	return units
}

func (c *Console) adminRoutes(mux *http.ServeMux) {
	mux.HandleFunc("GET /admin/people/{name}", c.page(func(r *request) error {
		v, err := c.personView(r)
		if err != nil {
			return err
		}
		c.render(r, "person", map[string]any{"V": v})
		return nil
	}))
	mux.HandleFunc("POST /admin/people/{name}", c.page(func(r *request) error {
		r.Body = http.MaxBytesReader(r.w, r.Body, 16<<10)
		e := store.PersonEdit{Role: r.FormValue("role"), Units: unitList(r.FormValue("units")), DisplayName: r.FormValue("display_name"),
			Disabled: r.FormValue("disabled") != ""}
		if _, err := c.editPerson(r, e); err != nil {
			return err
		}
		http.Redirect(r.w, r.Request, "/admin/people/"+url.PathEscape(r.PathValue("name"))+"#changes", http.StatusSeeOther)
		return nil
	}))
	mux.HandleFunc("GET /api/people/{name}", c.apiPage(func(r *request) (any, error) { return c.personView(r) }))
	mux.HandleFunc("POST /api/people/{name}", c.apiPage(func(r *request) (any, error) {
		var e store.PersonEdit
		if err := decodeBody(r, &e); err != nil {
			return nil, err
		}
		return c.editPerson(r, e)
	}))
	mux.HandleFunc("GET /admin", c.page(func(r *request) error {
		reg, err := c.registry(r)
		if err != nil {
			return err
		}
		page := map[string]any{"R": reg}
		q := r.URL.Query()
		if reg.NextDock != "" {
			page["MoreDocks"] = "/admin?" + url.Values{"after_dock": {reg.NextDock}, "after_recorder": {q.Get("after_recorder")}}.Encode() + "#docks"
		}
		if reg.NextRecorder != "" {
			page["MoreRecorders"] = "/admin?" + url.Values{"after_recorder": {reg.NextRecorder}, "after_dock": {q.Get("after_dock")}}.Encode() + "#recorders"
		}
		c.render(r, "admin", page)
		return nil
	}))
	mux.HandleFunc("POST /admin/people", c.page(func(r *request) error {
		r.Body = http.MaxBytesReader(r.w, r.Body, 16<<10)
		if _, err := c.addPerson(r, newPerson{Name: r.FormValue("name"), DisplayName: r.FormValue("display_name"), Role: r.FormValue("role"),
			Units: unitList(r.FormValue("units")), Password: r.FormValue("password")}); err != nil {
			return err
		}
		http.Redirect(r.w, r.Request, "/admin#people", http.StatusSeeOther)
		return nil
	}))
	mux.HandleFunc("GET /api/admin/registry", c.apiPage(func(r *request) (any, error) { return c.registry(r) }))
	mux.HandleFunc("POST /api/people", c.apiPage(func(r *request) (any, error) {
		var p newPerson
		if err := decodeBody(r, &p); err != nil {
			return nil, err
		}
		return c.addPerson(r, p)
	}))
}
