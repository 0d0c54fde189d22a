package main

import (
	"context"
	"crypto/rand"
	"encoding/base32"
	"fmt"
	"strings"

	"github.com/berthdock/berth/cloud/people"
	"github.com/berthdock/berth/cloud/store"
)

// signin is one demo person's sign-in to the console.
type signin struct {
	Name, Password, Role, Display string
}

func demoPassword() string {
	b := make([]byte, 10)
	rand.Read(b)
	return strings.ToLower(base32.StdEncoding.WithPadding(base32.NoPadding).EncodeToString(b))
}

// openConsole enrols the demo's people (a supervisor, a custodian and an
// auxiliary of the demo's unit, and an admin who keeps the registry, each
// with a fresh password) and prints the console's address and their
// sign-ins.
func (w *world) openConsole(ctx context.Context) error {
	w.people = []signin{
		{Name: "chief-wang", Role: people.RoleSupervisor, Display: "王科长"},
		{Name: "keeper-zhao", Role: people.RoleCustodian, Display: "赵装备"},
		{Name: "aux-chen", Role: people.RoleAuxiliary, Display: "陈辅警"},
		{Name: "admin-liu", Role: people.RoleAdmin, Display: "刘管理员"},
	}
	for i := range w.people {
		p := &w.people[i]
		p.Password = demoPassword()
		if err := w.Col.People().Add(ctx, store.Person{Name: p.Name, DisplayName: p.Display, Role: p.Role, Units: []string{demoUnit}},
			p.Password, "demo"); err != nil {
			return fmt.Errorf("console people: %w", err)
		}
	}
	fmt.Fprintf(w.out, "\n== Console: %s\n\n", w.consoleURL())
	for _, p := range w.people {
		fmt.Fprintf(w.out, "  %-11s %-12s password %s\n", p.Role, p.Name, p.Password)
	}
	return nil
}

func (w *world) consoleURL() string { return "http://" + w.Col.HTTPAddr() + "/" }
